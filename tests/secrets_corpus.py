"""Fake secrets in the shapes a secrets scanner knows (gitleaks, detect-secrets), each in the
kind of line it leaks in. None is a live credential. `(line, secret)`: after redaction the
`secret` part must be gone from the line."""

from __future__ import annotations

_B = "Q2h5x8Lm4Np7Rs1Tv3Wy6Za9Bc2De5Fg8Hj1Kk4Mn7Pq0Rt3Uv6Wx9Yz2Ab5Cd8Ef1Gh4Ij7Kl0Mn3Op6"
_HEX = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"


def _b(n: int, start: int = 0) -> str:
    return (_B * 4)[start:start + n]


def _h(n: int) -> str:
    return (_HEX * 2)[:n]


CORPUS: list[tuple[str, str]] = [
    # keys and certificates
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7xk\n-----END RSA PRIVATE KEY-----",
     "MIIEowIBAAKCAQEA7xk"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH "
     "PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA"),
    ('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN'
     'BgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"}', "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
    ('{"private_key_id": "' + _h(40) + '", "client_email": "x@p.iam.gserviceaccount.com"}',
     _h(40)),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0000000000\n-----END PGP PRIVATE KEY "
     "BLOCK-----", "lQOYBF0000000000"),
    ("AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE6MU",
     "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jV",
     "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("session=eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhY21lIn0.c2lnbmF0dXJlLXBhcnQ",
     "eyJpc3MiOiJhY21lIn0"),
    # model providers
    ("export ANTHROPIC_API_KEY=sk-ant-api03-" + _b(40) + "-_abcdEFGH", "sk-ant-api03-" + _b(12)),
    ("admin key sk-ant-admin01-" + _b(40, 3), "sk-ant-admin01-" + _b(10, 3)),
    ("openai key sk-proj-" + _b(48, 5), "sk-proj-" + _b(12, 5)),
    ("legacy openai " + _b(20, 7) + "T3BlbkFJ" + _b(20, 9), "T3BlbkFJ" + _b(20, 9)),
    ("HF_TOKEN hf_" + _b(34, 11), "hf_" + _b(20, 11)),
    # Slack
    ("bot token xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-1234567890"),
    ("user token xoxp-1234567890-0987654321-1122334455-" + _h(32), "xoxp-1234567890"),
    ("socket mode xapp-1-A0123456789-1234567890123-" + _h(64), "xapp-1-A0123456789"),
    ("legacy xoxa-2-" + _b(30, 2), "xoxa-2-" + _b(10, 2)),
    ("posting to https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX",
     "T0000000/B0000000/XXXX"),
    ("workflow https://hooks.slack.com/workflows/T01234/A01234/412345/" + _b(24),
     "T01234/A01234"),
    # source control, CI, registries
    ("git clone https://ghp_" + _b(36, 1) + "@github.com/acme/x", "ghp_" + _b(36, 1)),
    ("oauth gho_" + _b(36, 2), "gho_" + _b(36, 2)),
    ("installation token ghs_" + _b(36, 4), "ghs_" + _b(36, 4)),
    ("refresh ghr_" + _b(36, 6), "ghr_" + _b(36, 6)),
    ("token github_pat_11ABCDEFG0_" + _b(60, 8), "github_pat_11ABCDEFG0"),
    ("GITLAB_TOKEN glpat-" + _b(20, 10), "glpat-" + _b(20, 10)),
    ("trigger glptt-" + _h(40), "glptt-" + _h(40)),
    ("runner GR1348941" + _b(20, 12), "GR1348941" + _b(20, 12)),
    ("//registry.npmjs.org/:_authToken=npm_" + _b(36, 13), "npm_" + _b(36, 13)),
    ("twine upload -p pypi-AgEIcHlwaS5vcmc" + _b(60, 14), "pypi-AgEIcHlwaS5vcmc"),
    ("docker login -p dckr_pat_" + _b(27, 15), "dckr_pat_" + _b(27, 15)),
    ("TFE token abcdefghijklmn.atlasv1." + _b(70, 16), "atlasv1." + _b(20, 16)),
    ("VAULT_TOKEN=hvs." + _b(90, 17), "hvs." + _b(24, 17)),
    ("pulumi pul-" + _h(40), "pul-" + _h(40)),
    ("doppler dp.pt." + _b(43, 18), "dp.pt." + _b(43, 18)),
    ("atlassian ATATT3xFfGF0" + _b(40, 19), "ATATT3xFfGF0" + _b(20, 19)),
    ("linear lin_api_" + _b(40, 20), "lin_api_" + _b(40, 20)),
    ("postman PMAK-" + _h(24) + "-" + _h(34), "PMAK-" + _h(24)),
    # payments, mail, messaging
    ("charge failed with sk_live_51H8xYzAbCdEfGhIjKlMnOpQr", "sk_live_51H8xYz"),
    ("restricted rk_test_" + _b(24, 21), "rk_test_" + _b(24, 21)),
    ("stripe webhook secret whsec_" + _b(32, 22), "whsec_" + _b(32, 22)),
    ("SENDGRID_API_KEY=SG." + _b(22, 23) + "." + _b(43, 24), "SG." + _b(22, 23)),
    ("twilio api key SK" + _h(32), "SK" + _h(32)),
    ("mailgun key-" + _h(32), "key-" + _h(32)),
    ("mailchimp " + _h(32) + "-us14", _h(32) + "-us14"),
    ("square sq0atp-" + _b(22, 25), "sq0atp-" + _b(22, 25)),
    ("shopify shpat_" + _h(32), "shpat_" + _h(32)),
    ("telegram 1234567890:AA" + _b(33, 26), "1234567890:AA" + _b(33, 26)),
    ("https://discord.com/api/webhooks/123456789012345678/" + _b(68, 27), _b(68, 27)),
    # clouds
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("temporary ASIAY34FZKBOKMUTVV7A in use", "ASIAY34FZKBOKMUTVV7A"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("creds AKIAIOSFODNN7EXAMPLE 9Kx3mQ7vZ2pL8wR4tY6uB1nC5jH0sD+fG/aE2kXw",
     "9Kx3mQ7vZ2pL8wR4tY6uB1nC5jH0sD+fG/aE2kXw"),
    ("AWS_SESSION_TOKEN=FwoGZXIvYXdzEBYaD" + _b(80, 28), "FwoGZXIvYXdzEBYaD"),
    ("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + _b(86, 29) + "==;"
     "EndpointSuffix=core.windows.net", _b(86, 29)),
    ("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey="
     + _b(43, 30) + "=", _b(43, 30)),
    ("https://acme.blob.core.windows.net/c/f?sv=2022-11-02&sig=" + _b(43, 31) + "%3D",
     _b(43, 31)),
    ("azure client secret Abc8Q~" + _b(34, 32), "Abc8Q~" + _b(20, 32)),
    ("maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIzaSyA1b2C3d4E5f6G7"),
    ("GOOGLE_CLIENT_SECRET GOCSPX-" + _b(28, 33), "GOCSPX-" + _b(28, 33)),
    ("access ya29.a0" + _b(60, 34), "ya29.a0" + _b(20, 34)),
    ("DIGITALOCEAN_TOKEN dop_v1_" + _h(64), "dop_v1_" + _h(64)),
    ("alibaba LTAI" + _b(20, 35), "LTAI" + _b(20, 35)),
    ("databricks dapi" + _h(32), "dapi" + _h(32)),
    # observability
    ("SENTRY_AUTH_TOKEN=sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_abcdefghijklmnop", "sntrys_eyJpYXQ"),
    ("dsn https://" + _h(32) + "@o123456.ingest.sentry.io/4504", _h(32)),
    ("grafana glsa_" + _b(32, 36) + "_" + _h(8), "glsa_" + _b(32, 36)),
    ("grafana cloud glc_" + _b(60, 37), "glc_" + _b(40, 37)),
    ("newrelic NRAK-" + _b(27, 38).upper(), "NRAK-" + _b(27, 38).upper()),
    ("DD_API_KEY=" + _h(32), _h(32)),
    ("datadog_app_key: " + _h(40), _h(40)),
    # URLs, commands, headers, assignments
    ("DATABASE_URL=postgresql://app:S3cr3t-P4ss@db.internal:5432/orders", "S3cr3t-P4ss"),
    ("redis://:hunter2hunter2@cache:6379/0", "hunter2hunter2"),
    ("curl -u admin:Adm1nPassw0rd! http://x", "Adm1nPassw0rd"),
    ("login failed password=correct-horse-battery", "correct-horse-battery"),
    ("PGPASSWORD=Tr0ub4dor3 psql -h db", "Tr0ub4dor3"),
    ('{"client_secret": "9f8e7d6c5b4a39281706"}', "9f8e7d6c5b4a39281706"),
    ("db:\n  password: s3cr3t-yaml-value\n", "s3cr3t-yaml-value"),
    ("Server=db;Database=x;User Id=sa;Password=MyP@ssw0rd123;", "MyP@ssw0rd123"),
    ("X-Api-Key: " + _b(32, 39), _b(32, 39)),
    ("Authorization: Basic YWRtaW46c3VwZXJzZWNyZXQxMjM=", "YWRtaW46c3VwZXJzZWNyZXQxMjM="),
    ("SECRET_KEY = 'django-insecure-" + _b(40, 40) + "'", "django-insecure-"),
]
