"""The four systems the suite draws from, as their owners would describe them: workloads,
what calls what, how many replicas, how nodes are named, and which telemetry stack (and
so which metric names, units and alert sources) the team runs.

Roles drive behaviour in the model: `gateway` takes the outside traffic, `api`/`web` serve
requests, `worker` consumes a queue, `db`/`cache`/`queue` are StatefulSets with exporters,
`ext` is a third party seen only from its caller, `cron` is a CronJob, `batch` a background
Deployment without CPU limits (the classic noisy neighbour), `dns` is CoreDNS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    kind: str  # deploy | sts | cron | ext
    replicas: int
    role: str  # gateway web api worker db cache queue ext cron batch dns proxy
    lang: str  # jvm go py node native
    base_ms: float  # own work per request at low load, before any dependency
    calls: tuple[tuple[str, float], ...] = ()  # (callee, calls per request)

    @property
    def jvm(self) -> bool:
        return self.lang == "jvm"


@dataclass(frozen=True, slots=True)
class System:
    name: str
    stack: str  # istio | otel | datadog | prommix: picks names, units, scrapes, alert sources
    namespace: str
    nodes: int
    node_style: str  # gke | eks | aks | kubeadm
    entry_rps: float  # gateway requests per second at the diurnal peak
    workloads: tuple[Workload, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Workload:
        return next(w for w in self.workloads if w.name == name)

    def edges(self) -> list[tuple[str, str, float]]:
        """(caller, callee, calls per request), callee spelled as the system spells it
        (keyword arguments cannot hold '-' or '.', so `maps_googleapis_com` stands in)."""
        real = {re.sub(r"[-.]", "_", w.name): w.name for w in self.workloads}
        return [(w.name, real[k], v) for w in self.workloads for k, v in w.calls]


def W(name: str, kind: str, replicas: int, role: str, lang: str, ms: float,
      **calls: float) -> Workload:
    return Workload(name, kind, replicas, role, lang, ms,
                    tuple(calls.items()))  # keys resolved against real names in `edges`


# An online shop behind Istio: every request crosses Envoy sidecars, so the mesh reports
# per-workload request counts and latency; pods are seen through cadvisor/kube-state.
SHOP = System("shop", "istio", "shop", 6, "gke", 420.0, (
    W("istio-ingressgateway", "deploy", 3, "gateway", "native", 2, storefront=0.65,
      frontend_bff=0.35),
    W("storefront", "deploy", 4, "web", "node", 18, catalog=1.5, cart=0.4, recommendations=0.6,
      session_redis=1.0, product_reviews=0.3, search=0.3),
    W("frontend-bff", "deploy", 3, "api", "node", 10, catalog=0.8, cart=0.5, checkout=0.15,
      users=0.3, session_redis=1.0),
    W("catalog", "deploy", 4, "api", "jvm", 9, catalog_mysql=0.6, product_memcached=2.0,
      pricing=0.5),
    W("search", "deploy", 3, "api", "jvm", 22, search_opensearch=1.0),
    W("product-reviews", "deploy", 2, "api", "py", 15, reviews_mongo=1.0),
    W("recommendations", "deploy", 3, "api", "py", 28, product_memcached=1.0, catalog=0.5),
    W("cart", "deploy", 3, "api", "go", 5, cart_redis=2.0, pricing=0.6, inventory=0.5),
    W("checkout", "deploy", 3, "api", "jvm", 30, cart=1.0, pricing=1.0, inventory=1.0,
      orders=1.0, payment_gateway=1.0, tax_service=1.0, promotions=0.5),
    W("pricing", "deploy", 3, "api", "go", 4, product_memcached=1.0, promotions=0.4),
    W("promotions", "deploy", 2, "api", "node", 8, catalog_mysql=0.4),
    W("inventory", "deploy", 3, "api", "jvm", 8, inventory_pg=1.0),
    W("orders", "deploy", 3, "api", "jvm", 14, orders_pg=1.5, rabbitmq=1.0),
    W("payment-gateway", "deploy", 2, "api", "go", 12, adyen_api=1.0),
    W("tax-service", "deploy", 2, "api", "jvm", 10, avalara_api=1.0),
    W("users", "deploy", 2, "api", "go", 6, users_pg=1.0, session_redis=1.0),
    W("order-events-worker", "deploy", 3, "worker", "jvm", 25, rabbitmq=1.0, orders_pg=0.5,
      email_sender=0.5),
    W("email-sender", "deploy", 2, "api", "py", 30, sendgrid_api=1.0),
    W("image-resizer", "deploy", 1, "batch", "go", 400),
    W("catalog-sync", "cron", 1, "cron", "jvm", 50, catalog_mysql=4.0),
    W("session-redis", "sts", 1, "cache", "native", 0.4),
    W("cart-redis", "sts", 3, "cache", "native", 0.5),
    W("product-memcached", "sts", 3, "cache", "native", 0.3),
    W("catalog-mysql", "sts", 2, "db", "native", 3),
    W("inventory-pg", "sts", 2, "db", "native", 2.5),
    W("orders-pg", "sts", 2, "db", "native", 4),
    W("users-pg", "sts", 1, "db", "native", 2),
    W("reviews-mongo", "sts", 3, "db", "native", 4),
    W("search-opensearch", "sts", 3, "db", "jvm", 12),
    W("rabbitmq", "sts", 3, "queue", "native", 1),
    W("coredns", "deploy", 2, "dns", "native", 0.3),
    W("adyen-api", "ext", 0, "ext", "native", 180),
    W("avalara-api", "ext", 0, "ext", "native", 90),
    W("sendgrid-api", "ext", 0, "ext", "native", 120),
))

# A B2B SaaS API with a job queue and workers, instrumented end to end with OpenTelemetry
# (semantic-convention names, seconds for HTTP durations, milliseconds for RPC), on EKS.
SAAS = System("ledgerly", "otel", "ledgerly", 5, "eks", 160.0, (
    W("api-gateway", "deploy", 3, "gateway", "native", 3, public_api=0.7, web_app=0.3),
    W("web-app", "deploy", 2, "web", "node", 20, public_api=1.2, auth=0.5),
    W("public-api", "deploy", 4, "api", "py", 22, auth=1.0, tenants=1.0, invoices=0.4,
      reports_api=0.15, documents=0.3, pgbouncer=2.0, redis_cache=2.0, feature_flags=0.2),
    W("auth", "deploy", 3, "api", "go", 4, redis_sessions=1.0, pgbouncer=0.3),
    W("tenants", "deploy", 2, "api", "go", 5, pgbouncer=1.0, redis_cache=1.0),
    W("invoices", "deploy", 3, "api", "jvm", 18, pgbouncer=2.0, nats=0.3, xero_api=0.2),
    W("reports-api", "deploy", 2, "api", "py", 40, nats=1.0, pgbouncer=1.0),
    W("documents", "deploy", 2, "api", "go", 12, s3=1.0, pgbouncer=0.5),
    W("pdf-renderer", "deploy", 3, "worker", "node", 900, nats=1.0, s3=1.0),
    W("export-worker", "deploy", 4, "worker", "py", 600, nats=1.0, pgbouncer=3.0, s3=1.0),
    W("webhook-dispatcher", "deploy", 3, "worker", "go", 40, nats=1.0, customer_webhooks=1.0),
    W("search-indexer", "deploy", 2, "worker", "jvm", 80, nats=1.0, typesense=1.0),
    W("notifications", "deploy", 2, "worker", "py", 60, nats=1.0, postmark_api=1.0),
    W("job-scheduler", "deploy", 1, "api", "go", 5, nats=1.0, pgbouncer=0.5),
    W("feature-flags", "deploy", 2, "api", "go", 3, pgbouncer=0.2),
    W("billing-sync", "cron", 1, "cron", "py", 60, pgbouncer=5.0),
    W("usage-rollup", "cron", 1, "cron", "go", 40, pgbouncer=2.0),
    W("ml-churn-scoring", "deploy", 1, "batch", "py", 500),
    W("pgbouncer", "deploy", 2, "proxy", "native", 0.3, postgres_main=1.0),
    W("postgres-main", "sts", 2, "db", "native", 3),
    W("redis-cache", "sts", 1, "cache", "native", 0.4),
    W("redis-sessions", "sts", 1, "cache", "native", 0.4),
    W("typesense", "sts", 1, "db", "native", 8),
    W("nats", "sts", 3, "queue", "native", 0.8),
    W("coredns", "deploy", 2, "dns", "native", 0.3),
    W("s3", "ext", 0, "ext", "native", 35),
    W("xero-api", "ext", 0, "ext", "native", 250),
    W("customer-webhooks", "ext", 0, "ext", "native", 300),
    W("postmark-api", "ext", 0, "ext", "native", 110),
))

# A ride-booking platform watched through Datadog: APM metrics per service, inferred
# services for third parties, kubelet/agent metrics per pod, monitors as the alert source.
RIDES = System("tripline", "datadog", "tripline", 7, "aks", 300.0, (
    W("ingress-nginx-controller", "deploy", 2, "gateway", "native", 2, rider_api=0.6,
      driver_api=0.4),
    W("rider-api", "deploy", 4, "api", "node", 12, booking=0.3, eta=0.8, pricing_engine=0.5,
      profile=1.0, rider_memcached=1.0),
    W("driver-api", "deploy", 3, "api", "go", 6, location_ingest=2.0, profile=0.5, trips=0.3),
    W("location-ingest", "deploy", 5, "api", "go", 2, redis_geo=1.0, nats=1.0),
    W("geo-updater", "deploy", 3, "worker", "go", 6, nats=1.0, redis_geo=2.0),
    W("geo-index", "deploy", 3, "api", "go", 5, redis_geo=2.0),
    W("matching", "deploy", 3, "api", "jvm", 25, geo_index=2.0, profile=0.5),
    W("booking", "deploy", 3, "api", "jvm", 20, matching=1.0, pricing_engine=1.0, trips=1.0,
      wallet=0.5, fraud_check=1.0),
    W("pricing-engine", "deploy", 3, "api", "py", 15, surge=1.0, rider_memcached=1.0),
    W("surge", "deploy", 2, "api", "go", 4, redis_geo=1.0),
    W("eta", "deploy", 3, "api", "go", 8, maps_googleapis_com=0.6, rider_memcached=1.0),
    W("trips", "deploy", 3, "api", "jvm", 10, trips_mongo=2.0, nats=0.5),
    W("wallet", "deploy", 2, "api", "jvm", 15, wallet_pg=2.0, braintree_api=0.3),
    W("fraud-check", "deploy", 2, "api", "py", 30, fraud_redis=2.0),
    W("profile", "deploy", 3, "api", "go", 4, profiles_mysql=0.5, rider_memcached=1.0),
    W("push-notifier", "deploy", 2, "worker", "go", 40, nats=1.0, fcm_googleapis_com=1.0),
    W("receipts-worker", "deploy", 2, "worker", "jvm", 120, nats=1.0, trips_mongo=1.0),
    W("trip-archiver", "cron", 1, "cron", "jvm", 50, trips_mongo=6.0),
    W("heatmap-batch", "deploy", 1, "batch", "jvm", 700),
    W("redis-geo", "sts", 3, "cache", "native", 0.4),
    W("rider-memcached", "sts", 2, "cache", "native", 0.3),
    W("fraud-redis", "sts", 1, "cache", "native", 0.4),
    W("trips-mongo", "sts", 3, "db", "native", 4),
    W("wallet-pg", "sts", 2, "db", "native", 3),
    W("profiles-mysql", "sts", 2, "db", "native", 2),
    W("nats", "sts", 3, "queue", "native", 0.6),
    W("coredns", "deploy", 2, "dns", "native", 0.3),
    W("maps.googleapis.com", "ext", 0, "ext", "native", 70),
    W("braintree-api", "ext", 0, "ext", "native", 200),
    W("fcm.googleapis.com", "ext", 0, "ext", "native", 60),
))

# A search and ads serving backend on bare-metal kubeadm: gRPC inside, Envoy at the edge,
# half the services migrated to OpenTelemetry and half still on Prometheus client names.
ADS = System("adserve", "prommix", "ads", 8, "kubeadm", 900.0, (
    W("envoy-edge", "deploy", 3, "gateway", "native", 1, ad_server=0.75, search_frontend=0.2,
      click_tracker=0.05),
    W("ad-server", "deploy", 5, "api", "go", 4, query_rewriter=1.0, candidate_retrieval=1.0,
      ranker=1.0, budget_pacer=1.0, frequency_cap=1.0, rtb_bidder=0.3),
    W("search-frontend", "deploy", 3, "api", "go", 5, query_rewriter=1.0, index_shard=2.0,
      snippet_service=1.0),
    W("query-rewriter", "deploy", 3, "api", "py", 6, synonyms_redis=1.0),
    W("candidate-retrieval", "deploy", 4, "api", "jvm", 10, index_shard=2.0, feature_store=1.0),
    W("ranker", "deploy", 4, "api", "py", 14, feature_store=2.0, model_server=1.0),
    W("model-server", "deploy", 3, "api", "native", 9),
    W("feature-store", "deploy", 2, "api", "go", 2, features_redis=3.0),
    W("budget-pacer", "deploy", 2, "api", "go", 2, budgets_pg=0.3, budget_memcached=1.0),
    W("frequency-cap", "deploy", 3, "api", "go", 2, freqcap_redis=2.0),
    W("rtb-bidder", "deploy", 3, "api", "go", 6, dsp_partner_api=1.0),
    W("snippet-service", "deploy", 2, "api", "jvm", 8, index_shard=1.0),
    W("click-tracker", "deploy", 3, "api", "go", 3, rabbitmq=1.0),
    W("spend-aggregator", "deploy", 2, "worker", "jvm", 20, rabbitmq=1.0, budgets_pg=1.0),
    W("spend-reconcile", "cron", 1, "cron", "py", 40, budgets_pg=6.0),
    W("model-trainer", "deploy", 1, "batch", "py", 800),
    W("index-shard", "sts", 4, "db", "jvm", 6),
    W("features-redis", "sts", 3, "cache", "native", 0.3),
    W("freqcap-redis", "sts", 3, "cache", "native", 0.3),
    W("synonyms-redis", "sts", 1, "cache", "native", 0.3),
    W("budget-memcached", "sts", 2, "cache", "native", 0.2),
    W("budgets-pg", "sts", 2, "db", "native", 2),
    W("rabbitmq", "sts", 3, "queue", "native", 0.6),
    W("coredns", "deploy", 2, "dns", "native", 0.3),
    W("dsp-partner-api", "ext", 0, "ext", "native", 45),
))

SYSTEMS = (SHOP, SAAS, RIDES, ADS)
