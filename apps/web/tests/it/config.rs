//! Configuration: layered, validated at start-up, with errors that name the bad key.

use trellis_testkit::try_config_from;

#[test]
fn defaults_need_nothing_installed() {
    let c = try_config_from(&[]).unwrap();
    assert!(c.database.url.starts_with("sqlite:"));
    assert!(c.redis.url.is_empty());
    assert_eq!(c.server.base_domain, "localhost");
    assert_eq!(c.server.listen.port(), 8080);
    assert_eq!(c.server.public_port, Some(0), "links use the bound port");
}

#[test]
fn conventional_aliases_and_prefixed_keys_apply() {
    let c = try_config_from(&[
        ("DATABASE_URL", "postgres://app@db/trellis".into()),
        ("REDIS_URL", "redis://cache:6379".into()),
        ("TRELLIS__AUTH__SECRET", "ab".repeat(32)),
        ("TRELLIS__SECRETS__KEY", "cd".repeat(32)),
        ("TRELLIS__SERVER__LISTEN", "0.0.0.0:9000".into()),
        ("TRELLIS__SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]".into()),
    ])
    .unwrap();
    assert_eq!(c.database.url, "postgres://app@db/trellis");
    assert_eq!(c.redis.url, "redis://cache:6379");
    assert_eq!(c.server.listen.port(), 9000);
    assert_eq!(c.server.trusted_proxies, ["10.0.0.0/8"]);
    let c = try_config_from(&[
        ("DATABASE_URL", "sqlite://a.db".into()),
        ("TRELLIS__DATABASE__URL", "sqlite://b.db".into()),
    ])
    .unwrap();
    assert_eq!(c.database.url, "sqlite://b.db", "the explicit key wins over the alias");
}

#[test]
fn a_bad_value_names_its_key() {
    let cases = [
        ("TRELLIS__SERVER__LISTEN", "not-an-address", "server.listen"),
        ("TRELLIS__SERVER__NOPE", "1", "server.nope"),
        ("TRELLIS__DATABASE__URL", "mysql://x", "database.url"),
        ("REDIS_URL", "http://cache", "redis.url"),
        ("TRELLIS__SERVER__BASE_DOMAIN", "bad domain", "server.base_domain"),
        ("TRELLIS__SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/99\"]", "server.trusted_proxies"),
        ("TRELLIS__LOG__FORMAT", "xml", "log.format"),
        ("TRELLIS__LOG__ACCESS", "sometimes", "log.access"),
        ("TRELLIS__LOG__ACCESS_SAMPLE", "0", "log.access_sample"),
        ("TRELLIS__SERVER__MAX_BODY_BYTES", "-1", "server.max_body_bytes"),
        ("TRELLIS__AUTH__SECRET", "not-hex", "auth.secret"),
        ("REDIS_URL", "redis://cache:6379", "auth.secret"),
        ("TRELLIS__MAIL__TRANSPORT", "pigeon", "mail.transport"),
        ("TRELLIS__SECRETS__KEY", "not-hex", "secrets.key"),
        ("TRELLIS__SECRETS__RETIRED_KEYS", "[\"abc\"]", "secrets.retired_keys"),
        ("TRELLIS__UPLOADS__SCAN", "sometimes", "uploads.scan"),
        ("TRELLIS__UPLOADS__CLAMD", " ", "uploads.clamd"),
    ];
    for (k, v, key) in cases {
        let err = try_config_from(&[(k, v.into())]).expect_err(k);
        assert_eq!(err.key, key, "{k}={v}: {err}");
    }
    // Required scanning must take the largest package the service accepts.
    let err = try_config_from(&[
        ("TRELLIS__UPLOADS__SCAN", "required".into()),
        ("TRELLIS__UPLOADS__SCAN_MAX_MB", "100".into()),
    ])
    .expect_err("a scanner limit below the largest package");
    assert_eq!(err.key, "uploads.scan_max_mb", "{err}");
    // Several instances (Redis) need one operator key for secrets at rest, not a file each.
    let err =
        try_config_from(&[("REDIS_URL", "redis://cache:6379".into()), ("TRELLIS__AUTH__SECRET", "ab".repeat(32))])
            .expect_err("no secrets.key");
    assert_eq!(err.key, "secrets.key", "{err}");
}

#[test]
fn secrets_are_not_shown_in_debug_output() {
    let c = try_config_from(&[
        ("DATABASE_URL", "postgres://app:hunter2@db/trellis".into()),
        ("TRELLIS__SECRETS__KEY", "ef".repeat(32)),
    ])
    .unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2") && shown.contains("app:***@db"), "{shown}");
    assert!(!shown.contains(&"ef".repeat(32)), "the operator key is not shown: {shown}");
}
