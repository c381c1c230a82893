"""One service, several spellings: the alert's labels, the topology and the telemetry may
write the same service as `ts-order-service`, `ts_order_service` or `TS-Order-Service`, and
an alert's label may carry it as Kubernetes addresses it (`cart.shop.svc.cluster.local`,
`shop/cart`), as one of its pods (`cart-7d9f8b6c5-x2kqp`) or with a decoration the
telemetry leaves off (`cart-svc`). The investigation speaks the telemetry's spelling, where
the evidence is; a name that matches no service there, or matches several, is left as it
is."""

from __future__ import annotations

import re
from collections.abc import Iterable

from integrations.telemetry.pods import workload

# Words a deployment or a label adds to a service's name and the telemetry may leave off
# (or the reverse): `payments-api-svc` and `payments-api`, `checkout` and `checkout-service`.
_DECORATIONS = ("svc", "service", "srv", "server", "deployment", "deploy", "app", "k8s")
_SEPARATED = re.compile(rf"[\W_]+(?:{'|'.join(_DECORATIONS)})$", re.IGNORECASE)


def key(name: str) -> str:
    """A service name without case or separators (letters and digits of any script kept)."""
    return re.sub(r"[\W_]", "", name.casefold())


def bare(name: str) -> str:
    """`name`'s key without one trailing decoration written as a word of its own
    (`cart-svc`, `order_service`; not `webserver`)."""
    return key(_SEPARATED.sub("", name)) or key(name)


def _addressed(name: str) -> list[str]:
    """The service a Kubernetes-style address names: `ns/name` (its last part), a DNS name
    `name.ns.svc.cluster.local` (its first label), a pod (its workload)."""
    found = []
    if "/" in name:
        found.append(name.rstrip("/").rsplit("/", 1)[-1])
    if "." in name and not re.fullmatch(r"[\d.]+(?::\d+)?", name):  # not an IP address
        found.append(name.split(".", 1)[0])
    pod = workload(name)
    if pod:
        found.append(pod)
    return [f for f in found if f and f != name]


class Spellings:
    def __init__(self, known: Iterable[str]) -> None:
        self.known = set(known)
        self._by_key: dict[str, set[str]] = {}
        self._by_bare: dict[str, set[str]] = {}
        for name in self.known:
            self._by_key.setdefault(key(name), set()).add(name)
            self._by_bare.setdefault(bare(name), set()).add(name)

    def resolve(self, name: str) -> str:
        """`name` as the telemetry spells it, when exactly one of its services matches: by
        case and separators first, then as an address or a pod names it, then without a
        decoration on either side. Each tier is asked only when the one before found
        nothing, and any ambiguity leaves the name as it is."""
        if name in self.known or not key(name):  # nothing to match on: "--", "" or "…"
            return name
        for tier in (self._by_key.get(key(name), set()),
                     *(self._by_key.get(key(a), set()) | ({a} & self.known)
                       for a in _addressed(name)),
                     self._by_bare.get(bare(name), set())):
            if tier:
                return next(iter(tier)) if len(tier) == 1 else name
        return name
