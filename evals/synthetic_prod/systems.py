"""Three production systems: a payments platform, a media-streaming backend, a dispatch system.

Each is written as a small table rather than generated, because real topologies are lumpy:
a hot gateway, a couple of shared datastores everybody leans on, a cache with a fallback,
Kafka with consumers that do not sit on any request path, cron jobs that share nodes with
request-serving pods, and third-party APIs that only show up through their callers (and a
blackbox probe). Nothing here depends on which fault a case gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# role: edge (takes user traffic), app, worker (Kafka consumer), batch (cron job), db, cache,
# queue, search, external (third-party API: blackbox-probed, no pods of ours).
STATEFUL = {"db", "cache", "queue", "search"}
APP_ROLES = {"edge", "app", "worker"}


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    role: str
    stack: str  # java | go | python | node | store | ext : decides metric names, logs
    lat_ms: float  # own median processing time
    node: str  # where its pods run ("" for externals)
    base_rps: float = 0.0  # traffic entering here from outside (edges, workers' producers)
    ops: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Edge:
    caller: str
    callee: str
    mult: float  # calls per caller request (0 for a consumer's poll of Kafka)
    mask: float  # share of callee failures the caller hides (retries, fallbacks, fail-open)


@dataclass
class System:
    name: str
    team: str
    namespace: str
    services: dict[str, Service]
    edges: list[Edge]
    consumes: dict[str, str] = field(default_factory=dict)  # worker -> queue it reads
    batch_target: dict[str, str] = field(default_factory=dict)  # cron job -> store it loads
    hosts: dict[str, str] = field(default_factory=dict)  # external API -> host in its URL

    def callees(self, name: str) -> list[Edge]:
        return [e for e in self.edges if e.caller == name and e.mult > 0]

    def callers(self, name: str) -> list[Edge]:
        return [e for e in self.edges if e.callee == name and e.mult > 0]

    def order(self) -> list[str]:
        """Services with every callee before its callers (the call graph is a DAG)."""
        done: list[str] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            for e in self.callees(n):
                visit(e.callee)
            done.append(n)

        for n in self.services:
            visit(n)
        return done

    def ancestors(self, name: str) -> dict[str, int]:
        """Services whose requests reach `name`, with their hop distance (a Kafka consumer
        counts as downstream of its queue: its lag is where a slow broker shows)."""
        out: dict[str, int] = {}
        frontier = [(name, 0)]
        while frontier:
            n, d = frontier.pop(0)
            ups = [e.caller for e in self.callers(n)]
            ups += [w for w, q in self.consumes.items() if q == n]
            for u in ups:
                if u not in out and u != name:
                    out[u] = d + 1
                    frontier.append((u, d + 1))
        return out

    def depth(self, name: str) -> int:
        """Hops from the nearest edge service (0 for an edge)."""
        best = {n: 0 for n, s in self.services.items() if s.role == "edge"}
        for n in reversed(self.order()):
            for e in self.callees(n):
                if n in best:
                    best[e.callee] = min(best.get(e.callee, 99), best[n] + 1)
        return best.get(name, 99)

    def nodes(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for s in self.services.values():
            if s.node:
                out.setdefault(s.node, []).append(s.name)
        return out


def _build(
    name: str,
    team: str,
    ns: str,
    rows: str,
    edges: str,
    *,
    hosts: dict[str, str],
    ops: dict[str, tuple[str, ...]],
) -> System:
    services: dict[str, Service] = {}
    for line in rows.strip().splitlines():
        n, role, stack, lat, node, rps = line.split()
        services[n] = Service(
            n, role, stack, float(lat), "" if node == "-" else node, float(rps), ops.get(n, ())
        )
    out: list[Edge] = []
    consumes: dict[str, str] = {}
    batch: dict[str, str] = {}
    for item in edges.split():
        pair, *rest = item.split(":")
        a, b = pair.split(">")
        if rest == ["poll"]:
            consumes[a] = b
            out.append(Edge(a, b, 0.0, 0.0))
        elif rest == ["batch"]:
            batch[a] = b
            out.append(Edge(a, b, 0.0, 0.0))
        else:
            out.append(Edge(a, b, float(rest[0]), float(rest[1])))
    return System(name, team, ns, services, out, consumes, batch, hosts)


PAYMENTS = _build(
    "payments",
    "payments-core",
    "prod-payments",
    """
api-gateway edge go 4 node-a 900
auth-service app java 6 node-b 0
payments-api app java 18 node-a 0
merchant-api app python 25 node-c 0
refunds-api app python 30 node-c 0
fraud-scoring app python 22 node-b 0
ml-inference app python 15 node-d 0
payment-router app go 5 node-b 0
psp-connector app java 12 node-c 0
ledger-service app java 10 node-a 0
notification-worker worker node 8 node-d 40
webhook-dispatcher worker go 6 node-d 25
settlement-batch batch java 0 node-b 0
reporting-exporter batch python 0 node-d 0
postgres-primary db store 3 node-db-1 0
postgres-replica db store 4 node-db-2 0
redis-cache cache store 0.4 node-c 0
feature-store cache store 0.8 node-d 0
kafka queue store 3 node-db-2 0
stripe-api external ext 180 - 0
adyen-api external ext 220 - 0
sendgrid-api external ext 90 - 0
""",
    """
api-gateway>auth-service:1:0 api-gateway>payments-api:0.45:0 api-gateway>merchant-api:0.35:0
api-gateway>refunds-api:0.05:0 auth-service>redis-cache:1:0.6 auth-service>postgres-replica:0.1:0
payments-api>fraud-scoring:1:0.3 payments-api>payment-router:1:0 payments-api>ledger-service:1:0
payments-api>redis-cache:2:0.5 payments-api>kafka:1:0.2 fraud-scoring>feature-store:3:0.3
fraud-scoring>ml-inference:1:0.4 payment-router>psp-connector:1:0 psp-connector>stripe-api:0.7:0.1
psp-connector>adyen-api:0.3:0.1 ledger-service>postgres-primary:3:0 ledger-service>kafka:1:0.2
merchant-api>postgres-replica:2:0 merchant-api>redis-cache:2:0.5 refunds-api>ledger-service:1:0
refunds-api>payment-router:1:0 notification-worker>kafka:poll
notification-worker>sendgrid-api:0.5:0.5
webhook-dispatcher>kafka:poll webhook-dispatcher>postgres-replica:1:0
settlement-batch>postgres-primary:batch reporting-exporter>postgres-replica:batch
""",
    hosts={
        "stripe-api": "api.stripe.com",
        "adyen-api": "checkout-live.adyen.com",
        "sendgrid-api": "api.sendgrid.com",
    },
    ops={
        "api-gateway": (
            "POST /v1/payments",
            "GET /v1/merchants/{id}",
            "POST /v1/refunds",
            "GET /v1/payments/{id}",
        ),
        "payments-api": ("CreatePayment", "GetPayment"),
        "auth-service": ("ValidateToken",),
        "ledger-service": ("PostEntries", "GetBalance"),
        "fraud-scoring": ("Score",),
        "merchant-api": ("GET /merchants/{id}", "GET /merchants/{id}/payouts"),
    },
)

MEDIA = _build(
    "media",
    "streaming-platform",
    "prod-stream",
    """
edge-proxy edge go 3 node-a 1500
session-service app go 4 node-a 0
catalog-api app java 14 node-b 0
search-api app java 20 node-b 0
playback-api app go 10 node-a 0
entitlement-service app java 8 node-c 0
drm-license app go 12 node-c 0
manifest-service app go 7 node-a 0
recommendations-api app python 35 node-b 0
model-serving app python 25 node-d 0
heartbeat-collector app go 2 node-c 0
qoe-analytics worker java 5 node-d 0
transcoder-worker batch go 0 node-d 0
artwork-resizer batch python 0 node-c 0
subscriptions-db db store 3 node-db-1 0
catalog-db db store 4 node-db-2 0
elasticsearch search store 12 node-db-3 0
redis-sessions cache store 0.3 node-c 0
manifest-cache cache store 0.5 node-a 0
clickhouse db store 20 node-db-3 0
kafka queue store 3 node-db-2 0
widevine-proxy external ext 60 - 0
object-storage external ext 40 - 0
""",
    """
edge-proxy>session-service:1:0 edge-proxy>playback-api:0.25:0 edge-proxy>catalog-api:0.35:0
edge-proxy>search-api:0.1:0 edge-proxy>recommendations-api:0.2:0.2
edge-proxy>heartbeat-collector:0.5:0.5
session-service>redis-sessions:1:0 catalog-api>catalog-db:1.5:0 search-api>elasticsearch:1:0
playback-api>entitlement-service:1:0 playback-api>drm-license:0.6:0
playback-api>manifest-service:1:0
entitlement-service>subscriptions-db:1:0 entitlement-service>redis-sessions:1:0.5
drm-license>widevine-proxy:1:0.1 manifest-service>manifest-cache:1:0.6
manifest-service>object-storage:0.1:0.2
recommendations-api>model-serving:1:0.5 recommendations-api>catalog-api:1:0.2
heartbeat-collector>kafka:1:0.3
qoe-analytics>kafka:poll qoe-analytics>clickhouse:1:0
transcoder-worker>object-storage:batch artwork-resizer>catalog-db:batch
""",
    hosts={"widevine-proxy": "license.widevine.com", "object-storage": "storage.googleapis.com"},
    ops={
        "edge-proxy": (
            "GET /api/v2/home",
            "POST /api/v2/playback/start",
            "GET /api/v2/titles/{id}",
            "GET /api/v2/search",
            "POST /api/v2/heartbeat",
        ),
        "playback-api": ("StartPlayback",),
        "catalog-api": ("GetTitle", "ListRow"),
        "drm-license": ("IssueLicense",),
        "manifest-service": ("GetManifest",),
    },
)

DISPATCH = _build(
    "dispatch",
    "logistics-dispatch",
    "prod-dispatch",
    """
mobile-bff edge node 8 node-a 600
partner-api edge java 10 node-b 200
order-service app java 15 node-a 0
tracking-service app go 6 node-b 0
driver-service app java 9 node-c 0
pricing-service app python 18 node-c 0
surge-model app python 20 node-d 0
dispatch-service app go 12 node-a 0
routing-engine app java 30 node-b 0
eta-service app python 16 node-d 0
location-ingest worker go 3 node-c 300
notification-service worker node 6 node-d 0
billing-batch batch java 0 node-a 0
geo-reindex batch go 0 node-b 0
orders-db db store 4 node-db-1 0
drivers-db db store 3 node-db-2 0
driver-location cache store 0.6 node-c 0
routing-cache cache store 0.5 node-b 0
events-db db store 6 node-db-2 0
kafka queue store 3 node-db-3 0
maps-api external ext 120 - 0
twilio-sms external ext 250 - 0
""",
    """
mobile-bff>order-service:0.3:0 mobile-bff>tracking-service:0.6:0 mobile-bff>driver-service:0.2:0
mobile-bff>pricing-service:0.25:0 partner-api>order-service:0.6:0 partner-api>tracking-service:0.5:0
order-service>orders-db:3:0 order-service>pricing-service:1:0 order-service>dispatch-service:0.8:0
order-service>kafka:1:0.2 pricing-service>surge-model:1:0.5 pricing-service>eta-service:1:0.3
dispatch-service>driver-location:2:0 dispatch-service>routing-engine:1:0
dispatch-service>drivers-db:1:0
dispatch-service>kafka:1:0.2 eta-service>routing-engine:1:0 routing-engine>routing-cache:1:0.6
routing-engine>maps-api:0.3:0.1 tracking-service>driver-location:1:0 tracking-service>events-db:1:0
driver-service>drivers-db:2:0 driver-service>driver-location:1:0 location-ingest>kafka:poll
location-ingest>driver-location:1:0 location-ingest>events-db:1:0 notification-service>kafka:poll
notification-service>twilio-sms:0.3:0.3 billing-batch>orders-db:batch geo-reindex>events-db:batch
""",
    hosts={"maps-api": "maps.googleapis.com", "twilio-sms": "api.twilio.com"},
    ops={
        "mobile-bff": (
            "POST /graphql CreateOrder",
            "POST /graphql TrackOrder",
            "POST /graphql Quote",
            "POST /graphql DriverProfile",
        ),
        "partner-api": ("POST /v3/shipments", "GET /v3/shipments/{id}/tracking"),
        "order-service": ("CreateOrder", "GetOrder"),
        "dispatch-service": ("AssignDriver",),
        "routing-engine": ("Route", "Matrix"),
        "pricing-service": ("Quote",),
    },
)

SYSTEMS = [PAYMENTS, MEDIA, DISPATCH]
