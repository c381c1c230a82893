"""The three systems RCAEval runs (Online Boutique, Sock Shop, Train Ticket) as call graphs.

Edges carry the expected number of calls a caller makes to a callee per request it serves,
so a callee's added latency reaches its caller scaled by that share (a frontend that calls
the ad service on 60% of page views sees 60% of the ad service's extra delay). Shares and
base latencies are our estimates from reading the three applications' request paths, not
measured values; languages decide the shape of memory (JVM services carry a GC sawtooth
and a large heap) and of log lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class System:
    name: str           # "online-boutique" | "sock-shop" | "train-ticket"
    short: str          # OB | SS | TT, as RCAEval names its datasets
    entry: str
    edges: tuple[tuple[str, str, float], ...]   # caller, callee, calls per caller request
    targets: tuple[str, ...]                    # where the benchmark injects faults
    language: dict[str, str] = field(default_factory=dict)
    # Backing stores and brokers: no HTTP latency metric of their own in RE1/RE2.
    stores: tuple[str, ...] = ()
    # Services whose failures the caller swallows (a page renders without ads): the share
    # of a callee's errors that a caller turns into its own errors.
    tolerant: tuple[tuple[str, str], ...] = ()
    # RE2-SS names some containers by a prefix of the service name (front, queue).
    container_alias: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> list[str]:
        seen = [self.entry]
        for caller, callee, _ in self.edges:
            for s in (caller, callee):
                if s not in seen:
                    seen.append(s)
        return seen

    def callees(self, service: str) -> list[tuple[str, float]]:
        return [(b, m) for a, b, m in self.edges if a == service]

    def callers(self, service: str) -> list[str]:
        return [a for a, b, _ in self.edges if b == service]

    def order(self) -> list[str]:
        """Callees before callers, so a caller's latency can sum its callees'."""
        done: list[str] = []
        def visit(s: str) -> None:
            if s in done:
                return
            for callee, _ in self.callees(s):
                visit(callee)
            done.append(s)
        for s in self.services:
            visit(s)
        return done

    def reach(self) -> dict[str, float]:
        """Calls each service receives per entry request (the workload it sees)."""
        out = {s: 0.0 for s in self.services}
        out[self.entry] = 1.0
        for s in reversed(self.order()):
            for callee, m in self.callees(s):
                out[callee] += out[s] * m
        return out


ONLINE_BOUTIQUE = System(
    name="online-boutique", short="OB", entry="frontend",
    edges=(
        ("frontend", "productcatalogservice", 1.6), ("frontend", "currencyservice", 1.2),
        ("frontend", "cartservice", 0.5), ("frontend", "recommendationservice", 0.45),
        ("frontend", "adservice", 0.6), ("frontend", "shippingservice", 0.15),
        ("frontend", "checkoutservice", 0.06),
        ("checkoutservice", "cartservice", 2.0), ("checkoutservice", "productcatalogservice", 2.5),
        ("checkoutservice", "currencyservice", 3.0), ("checkoutservice", "shippingservice", 2.0),
        ("checkoutservice", "paymentservice", 1.0), ("checkoutservice", "emailservice", 1.0),
        ("recommendationservice", "productcatalogservice", 1.0),
        ("cartservice", "redis-cart", 1.0),
    ),
    targets=("adservice", "cartservice", "checkoutservice", "currencyservice", "emailservice",
             "paymentservice", "productcatalogservice", "recommendationservice",
             "shippingservice"),
    language={"frontend": "go", "productcatalogservice": "go", "shippingservice": "go",
              "checkoutservice": "go", "currencyservice": "node", "paymentservice": "node",
              "cartservice": "csharp", "recommendationservice": "python",
              "emailservice": "python", "adservice": "java", "redis-cart": "redis"},
    stores=("redis-cart",),
    tolerant=(("frontend", "adservice"), ("frontend", "recommendationservice"),
              ("checkoutservice", "emailservice")),
)

SOCK_SHOP = System(
    name="sock-shop", short="SS", entry="front-end",
    edges=(
        ("front-end", "catalogue", 1.4), ("front-end", "carts", 0.6), ("front-end", "user", 0.5),
        ("front-end", "orders", 0.12), ("front-end", "session-db", 1.0),
        ("orders", "user", 3.0), ("orders", "carts", 1.0), ("orders", "payment", 1.0),
        ("orders", "shipping", 1.0), ("orders", "orders-db", 1.0),
        ("shipping", "rabbitmq", 1.0), ("queue-master", "rabbitmq", 1.0),
        ("catalogue", "catalogue-db", 1.0), ("carts", "carts-db", 2.0),
        ("user", "user-db", 1.0),
    ),
    targets=("carts", "catalogue", "orders", "payment", "user"),
    language={"front-end": "node", "catalogue": "go", "payment": "go", "user": "go",
              "carts": "java", "orders": "java", "shipping": "java", "queue-master": "java",
              "rabbitmq": "erlang", "session-db": "redis", "catalogue-db": "mysql",
              "carts-db": "mongo", "orders-db": "mongo", "user-db": "mongo"},
    stores=("session-db", "catalogue-db", "carts-db", "orders-db", "user-db", "rabbitmq"),
    container_alias={"front-end": "front", "queue-master": "queue"},
)

_TT_EDGES: tuple[tuple[str, str, float], ...] = (
    ("ts-ui-dashboard", "ts-auth-service", 0.08), ("ts-ui-dashboard", "ts-user-service", 0.05),
    ("ts-ui-dashboard", "ts-verification-code-service", 0.08),
    ("ts-ui-dashboard", "ts-travel-service", 0.35), ("ts-ui-dashboard", "ts-travel2-service", 0.2),
    ("ts-ui-dashboard", "ts-order-service", 0.15),
    ("ts-ui-dashboard", "ts-order-other-service", 0.08),
    ("ts-ui-dashboard", "ts-preserve-service", 0.06),
    ("ts-ui-dashboard", "ts-cancel-service", 0.02), ("ts-ui-dashboard", "ts-rebook-service", 0.02),
    ("ts-ui-dashboard", "ts-execute-service", 0.02),
    ("ts-ui-dashboard", "ts-inside-payment-service", 0.04),
    ("ts-ui-dashboard", "ts-contacts-service", 0.08), ("ts-ui-dashboard", "ts-food-service", 0.05),
    ("ts-ui-dashboard", "ts-assurance-service", 0.05),
    ("ts-ui-dashboard", "ts-consign-service", 0.03),
    ("ts-ui-dashboard", "ts-station-service", 0.1),
    ("ts-ui-dashboard", "ts-travel-plan-service", 0.06),
    ("ts-auth-service", "ts-verification-code-service", 1.0),
    ("ts-user-service", "ts-auth-service", 0.3),
    ("ts-travel-service", "ts-ticketinfo-service", 1.0),
    ("ts-travel-service", "ts-seat-service", 1.0),
    ("ts-travel-service", "ts-route-service", 1.0), ("ts-travel-service", "ts-train-service", 1.0),
    ("ts-travel-service", "ts-order-service", 1.0),
    ("ts-travel2-service", "ts-ticketinfo-service", 1.0),
    ("ts-travel2-service", "ts-seat-service", 1.0), ("ts-travel2-service", "ts-route-service", 1.0),
    ("ts-travel2-service", "ts-train-service", 1.0),
    ("ts-travel2-service", "ts-order-other-service", 1.0),
    ("ts-ticketinfo-service", "ts-basic-service", 1.0),
    ("ts-basic-service", "ts-station-service", 2.0), ("ts-basic-service", "ts-train-service", 1.0),
    ("ts-basic-service", "ts-route-service", 1.0), ("ts-basic-service", "ts-price-service", 1.0),
    ("ts-seat-service", "ts-order-service", 1.0), ("ts-seat-service", "ts-config-service", 1.0),
    ("ts-preserve-service", "ts-security-service", 1.0),
    ("ts-preserve-service", "ts-contacts-service", 1.0),
    ("ts-preserve-service", "ts-travel-service", 1.0),
    ("ts-preserve-service", "ts-station-service", 2.0),
    ("ts-preserve-service", "ts-seat-service", 1.0),
    ("ts-preserve-service", "ts-order-service", 1.0),
    ("ts-preserve-service", "ts-assurance-service", 0.5),
    ("ts-preserve-service", "ts-food-service", 0.5),
    ("ts-preserve-service", "ts-consign-service", 0.3),
    ("ts-preserve-service", "ts-user-service", 1.0),
    ("ts-preserve-service", "ts-notification-service", 1.0),
    ("ts-security-service", "ts-order-service", 1.0),
    ("ts-security-service", "ts-order-other-service", 1.0),
    ("ts-cancel-service", "ts-order-service", 1.0),
    ("ts-cancel-service", "ts-inside-payment-service", 1.0),
    ("ts-cancel-service", "ts-notification-service", 1.0),
    ("ts-cancel-service", "ts-user-service", 1.0),
    ("ts-inside-payment-service", "ts-payment-service", 1.0),
    ("ts-inside-payment-service", "ts-order-service", 1.0),
    ("ts-rebook-service", "ts-order-service", 1.0), ("ts-rebook-service", "ts-travel-service", 1.0),
    ("ts-rebook-service", "ts-seat-service", 1.0),
    ("ts-rebook-service", "ts-inside-payment-service", 1.0),
    ("ts-execute-service", "ts-order-service", 1.0),
    ("ts-food-service", "ts-station-food-service", 1.0),
    ("ts-food-service", "ts-train-food-service", 1.0),
    ("ts-food-service", "ts-travel-service", 1.0),
    ("ts-consign-service", "ts-consign-price-service", 1.0),
    ("ts-travel-plan-service", "ts-route-plan-service", 1.0),
    ("ts-travel-plan-service", "ts-seat-service", 1.0),
    ("ts-route-plan-service", "ts-travel-service", 1.0),
    ("ts-route-plan-service", "ts-travel2-service", 1.0),
    ("ts-route-plan-service", "ts-station-service", 1.0),
    ("ts-route-plan-service", "ts-route-service", 1.0),
)

TRAIN_TICKET = System(
    name="train-ticket", short="TT", entry="ts-ui-dashboard", edges=_TT_EDGES,
    targets=("ts-auth-service", "ts-order-service", "ts-route-service", "ts-train-service",
             "ts-travel-service"),
    language={},  # every ts-*-service is Spring Boot (java); the dashboard is nginx
)

SYSTEMS = (ONLINE_BOUTIQUE, SOCK_SHOP, TRAIN_TICKET)


def language(system: System, service: str) -> str:
    if system is TRAIN_TICKET:
        return "nginx" if service == system.entry else "java"
    return system.language.get(service, "go")
