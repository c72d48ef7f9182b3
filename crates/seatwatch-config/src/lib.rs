//! Seatwatch's configuration file (CONTRACT.md §2) and the token table built from it.
//!
//! ```toml
//! [[token]]
//! name = "acd-1"
//! tenant = "acme"
//! role = "producer"
//! sha256 = "9f86d0…"
//!
//! [tenant.acme]
//! timezone = "Asia/Shanghai"
//! clock = "wall"
//!
//! [tenant.acme.rules]
//! not_ready_max = "15m"
//! ```
//!
//! Secrets never appear here: only their SHA-256. Every key is checked (unknown keys are
//! errors, so a typo cannot silently fall back to a default), and every error names the
//! key and says what would be accepted.

use seatwatch_model::{CallerPolicy, Dur};
use serde::Deserialize;
use sha2::Digest;
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;

/// What can be wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML does not parse or does not fit the schema.
    #[error("{0}")]
    Toml(String),
    /// The TOML parses but a value is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May send events (and read its own tenant).
    Producer,
    /// May read its own tenant.
    Reader,
    /// May read every tenant and the raw log.
    Admin,
}

impl Role {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Reader => "reader",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a tenant's time advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Time also advances with the server's clock: the server writes tick records.
    #[default]
    Wall,
    /// Time advances only with event and heartbeat timestamps.
    Event,
}

/// One `[[token]]` entry.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Recorded as the `source` of every event sent with it.
    pub name: String,
    /// The tenant the token belongs to.
    pub tenant: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the secret, lowercase hex.
    pub sha256: String,
    /// Most events per second this token may send (over all its connections); overrides
    /// `[server] rate_limit`. Events over it are rejected with `internal` ("send again").
    #[serde(default)]
    pub rate_limit: Option<f64>,
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("role", &self.role)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

/// One `[tenant.NAME]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantConfig {
    /// IANA time zone; schedules, days and weeks are local to it.
    pub timezone: chrono_tz::Tz,
    /// `wall` or `event`.
    pub clock: ClockMode,
    /// How the `caller` field is stored: `hmac` (default), `plain`, `drop`.
    pub caller: CallerPolicy,
    /// How far another agent's event may lag behind (watermark lateness).
    pub allowed_lateness: Dur,
    /// How far ahead of the server's clock an event's `ts` may lie (`clock_skew`); unset:
    /// 5 minutes under `clock = "wall"`, 1830 days under `clock = "event"` (see
    /// [`TenantConfig::future_limit`]).
    pub max_future: Option<Dur>,
    /// How far before the server's clock an event's `ts` may lie (`clock_skew`), any clock.
    pub max_past: Dur,
    /// For `clock = "wall"`: how far behind the server's clock its ticks stamp time, so an
    /// event delayed on its way by up to this long still beats its deadline; alarms come
    /// this long after their deadline (default 500 ms: within the contract's second).
    pub tick_lateness: Dur,
    /// Compliance rule parameters (`[tenant.X.rules]`).
    pub rules: seatwatch_compliance::Rules,
    /// Occupancy and interval settings (`[tenant.X.occupancy]`).
    pub occupancy: seatwatch_occupancy::Settings,
    /// Per-agent Prometheus series (off by default: they multiply series by agents).
    pub agent_metrics: bool,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            timezone: chrono_tz::Asia::Shanghai,
            clock: ClockMode::Wall,
            caller: CallerPolicy::Hmac,
            allowed_lateness: Dur::secs(5),
            max_future: None,
            max_past: DEFAULT_MAX_PAST,
            tick_lateness: Dur(500),
            rules: seatwatch_compliance::Rules::default(),
            occupancy: seatwatch_occupancy::Settings::default(),
            agent_metrics: false,
        }
    }
}

/// The default `max_past`: about ten years. Producers that buffer while offline send
/// events days or weeks late; a stamp decades old is a device whose clock was reset.
pub const DEFAULT_MAX_PAST: Dur = Dur(3650 * 86_400_000);

/// The default `max_future` of an event-clock tenant: about five years. Such tenants
/// replay history and run simulations ahead of today, but one heartbeat stamped years
/// ahead would make every known agent absent on every scheduled day in between.
pub const DEFAULT_EVENT_MAX_FUTURE: Dur = Dur(1830 * 86_400_000);

impl TenantConfig {
    /// How far ahead of the server's clock a `ts` may lie: `max_future`, else 5 minutes
    /// under the wall clock and [`DEFAULT_EVENT_MAX_FUTURE`] under the event clock.
    pub fn future_limit(&self) -> Dur {
        self.max_future.unwrap_or(match self.clock {
            ClockMode::Wall => Dur::mins(5),
            ClockMode::Event => DEFAULT_EVENT_MAX_FUTURE,
        })
    }

    fn check(&self, table: &str) -> Result<(), ConfigError> {
        self.rules.validate().map_err(|e| ConfigError::Invalid(format!("{table}.rules: {e}")))?;
        self.occupancy.validate().map_err(|e| ConfigError::Invalid(format!("{table}.occupancy: {e}")))?;
        let occ_default = seatwatch_occupancy::Settings::default();
        if (self.occupancy.max_rings != occ_default.max_rings && self.occupancy.max_rings != self.rules.max_rings)
            || (self.occupancy.ring_cadence != occ_default.ring_cadence
                && self.occupancy.ring_cadence != self.rules.ring_cadence)
        {
            return Err(ConfigError::Invalid(format!(
                "{table}.occupancy: set max_rings and ring_cadence in {table}.rules; the alarms and the interval statistics share them"
            )));
        }
        if self.max_future.is_some_and(|d| d < Dur::secs(1)) {
            return Err(ConfigError::Invalid(format!("{table}: max_future must be at least 1s")));
        }
        if self.max_past < Dur::mins(10) {
            return Err(ConfigError::Invalid(format!(
                "{table}: max_past must be at least 10m (producers' delayed events must still be accepted)"
            )));
        }
        if self.tick_lateness > Dur::mins(10) {
            return Err(ConfigError::Invalid(format!(
                "{table}: tick_lateness is at most 10m (wall-clock alarms wait this long for delayed events)"
            )));
        }
        if self.allowed_lateness > Dur::mins(10) {
            return Err(ConfigError::Invalid(format!(
                "{table}: allowed_lateness is at most 10m (alarms wait this long for late events)"
            )));
        }
        Ok(())
    }

    /// The compliance projector's view of this tenant.
    pub fn compliance(&self) -> seatwatch_compliance::TenantSettings {
        seatwatch_compliance::TenantSettings {
            timezone: self.timezone,
            allowed_lateness: self.allowed_lateness,
            rules: self.rules.clone(),
        }
    }

    /// The occupancy projector's view of this tenant.
    pub fn occupancy(&self) -> seatwatch_occupancy::TenantSettings {
        let mut settings = self.occupancy.clone();
        // One ring rule for alarms and statistics alike.
        settings.max_rings = self.rules.max_rings;
        settings.ring_cadence = self.rules.ring_cadence;
        seatwatch_occupancy::TenantSettings {
            timezone: self.timezone,
            allowed_lateness: self.allowed_lateness,
            settings,
        }
    }
}

/// `[server]`: limits of the ingest and read endpoints.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Most simultaneous WebSocket connections (ingest and stream together).
    pub max_connections: usize,
    /// Largest WebSocket message in bytes; bigger closes the connection with 1009.
    pub max_frame_bytes: usize,
    /// Most bytes of frames read but not yet answered, per connection (backpressure).
    pub max_in_flight_bytes: usize,
    /// How often wall-clock tenants get a tick record (at most once a second).
    pub tick_interval: Dur,
    /// How often the server writes a projection snapshot.
    pub snapshot_interval: Dur,
    /// A WebSocket connection with no frame (not even a ping) for this long is closed.
    pub idle_timeout: Dur,
    /// `/metrics` needs a token when true (the default: tenants never see each other's
    /// data): an admin's sees every series, any other token only its own tenant's.
    /// `false` opens it to anyone who can reach the port, with every tenant's series.
    pub metrics_auth: bool,
    /// A connection must deliver a whole HTTP request head (the upgrade request included)
    /// within this long after it opens, or after its previous request; else it is closed
    /// (slowloris). Also bounds the TLS handshake.
    pub handshake_timeout: Dur,
    /// Most open TCP connections speaking HTTP (requests and handshakes in progress, idle
    /// kept-alive connections); connections upgraded to WebSockets count against
    /// `max_connections` instead. Connections beyond it are accepted and closed at once,
    /// so that the process never runs out of file descriptors: it holds at most
    /// `max_sockets + max_connections` sockets.
    pub max_sockets: usize,
    /// Default most events per second per token (over all its connections); 0: no limit.
    /// `[[token]] rate_limit` overrides it for one token.
    pub rate_limit: f64,
    /// PEM certificate chain: with `tls_key`, the listener speaks HTTPS/WSS only.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 1024,
            max_frame_bytes: 1 << 20,
            max_in_flight_bytes: 8 << 20,
            tick_interval: Dur::secs(1),
            snapshot_interval: Dur::mins(5),
            idle_timeout: Dur::mins(5),
            metrics_auth: true,
            handshake_timeout: Dur::secs(10),
            max_sockets: 4096,
            rate_limit: 0.0,
            tls_cert: None,
            tls_key: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    token: Vec<TokenConfig>,
    #[serde(default)]
    tenant: BTreeMap<String, TenantConfig>,
    #[serde(default)]
    server: Option<ServerConfig>,
    #[serde(default)]
    defaults: Option<TenantConfig>,
}

/// The whole configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The tokens, as configured.
    pub tokens: Vec<TokenConfig>,
    /// Per-tenant settings.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Settings for tenants with no `[tenant.X]` table (`[defaults]`, else built-in).
    pub default_tenant: TenantConfig,
    /// Server limits.
    pub server: ServerConfig,
}

impl Config {
    /// Parse and check a configuration file's text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        let cfg = Config {
            tokens: raw.token,
            tenants: raw.tenant,
            default_tenant: raw.defaults.unwrap_or_default(),
            server: raw.server.unwrap_or_default(),
        };
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        let mut secrets = std::collections::BTreeMap::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let what = format!("[[token]] #{} (name {:?})", i + 1, t.name);
            if t.name.is_empty() || t.name.len() > 64 {
                return Err(ConfigError::Invalid(format!("{what}: `name` must be 1 to 64 bytes")));
            }
            if t.name == SERVER_SOURCE {
                return Err(ConfigError::Invalid(format!(
                    "{what}: the name {SERVER_SOURCE:?} is the server's own (the source of its tick records); \
                     give the token another name"
                )));
            }
            if !names.insert(t.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "{what}: two tokens are named {:?}; names must be unique (they become each event's source)",
                    t.name
                )));
            }
            if !valid_tenant(&t.tenant) {
                return Err(ConfigError::Invalid(format!(
                    "{what}: tenant {:?} must be 1 to 64 characters of letters, digits, '-', '_' or '.'",
                    t.tenant
                )));
            }
            if let Some(r) = t.rate_limit
                && !(r.is_finite() && r > 0.0)
            {
                return Err(ConfigError::Invalid(format!(
                    "{what}: `rate_limit` must be a positive number of events per second (omit it for the [server] default)"
                )));
            }
            if t.sha256.len() != 64 || hex::decode(&t.sha256).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "{what}: `sha256` must be the 64 hex digits of the secret's SHA-256 (make one with `seatwatch token`)"
                )));
            }
            // One secret, one identity: a second token with the same hash would make the
            // secret's tenant and role depend on the order of the file.
            if let Some(first) = secrets.insert(t.sha256.to_ascii_lowercase(), t.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "{what}: has the same `sha256` as the token named {first:?}: each token needs its own secret \
                     (make one with `seatwatch token`)"
                )));
            }
        }
        for (name, t) in &self.tenants {
            if !valid_tenant(name) {
                return Err(ConfigError::Invalid(format!(
                    "[tenant.{name}]: a tenant name must be 1 to 64 characters of letters, digits, '-', '_' or '.'"
                )));
            }
            t.check(&format!("[tenant.{name}]"))?;
        }
        self.default_tenant.check("[defaults]")?;
        let s = &self.server;
        if s.max_frame_bytes < 1024 {
            return Err(ConfigError::Invalid("[server] max_frame_bytes must be at least 1024".into()));
        }
        if s.max_in_flight_bytes < s.max_frame_bytes {
            return Err(ConfigError::Invalid("[server] max_in_flight_bytes must be at least max_frame_bytes".into()));
        }
        if s.tick_interval < Dur::secs(1) {
            return Err(ConfigError::Invalid(
                "[server] tick_interval must be at least 1s (ticks are written at most once a second)".into(),
            ));
        }
        if s.max_connections == 0 {
            return Err(ConfigError::Invalid("[server] max_connections must be at least 1".into()));
        }
        if s.max_sockets == 0 {
            return Err(ConfigError::Invalid("[server] max_sockets must be at least 1".into()));
        }
        if s.handshake_timeout < Dur(100) {
            return Err(ConfigError::Invalid("[server] handshake_timeout must be at least 100ms".into()));
        }
        if s.tls_cert.is_some() != s.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "[server] tls_cert and tls_key go together: give both (HTTPS) or neither (plain HTTP)".into(),
            ));
        }
        if !(s.rate_limit.is_finite() && s.rate_limit >= 0.0) {
            return Err(ConfigError::Invalid(
                "[server] rate_limit must be a number of events per second per token, 0 for no limit".into(),
            ));
        }
        Ok(())
    }

    /// The tenants some `[[token]]` names that have no `[tenant.NAME]` table, sorted,
    /// each once: they use the defaults, which is allowed but also what a typo in a
    /// token's `tenant` looks like (it makes a separate tenant).
    pub fn tenants_without_table(&self) -> Vec<&str> {
        let mut names: Vec<&str> =
            self.tokens.iter().map(|t| t.tenant.as_str()).filter(|t| !self.tenants.contains_key(*t)).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Settings a tenant's table gives that its clock ignores, one sentence per tenant:
    /// `tick_lateness` acts on `clock = "wall"` tenants only. Not an error (switching the
    /// clock back makes it count), but worth a warning.
    pub fn ignored_settings(&self) -> Vec<String> {
        let defaults = TenantConfig::default();
        self.tenants
            .iter()
            .filter(|(_, t)| t.clock == ClockMode::Event && t.tick_lateness != defaults.tick_lateness)
            .map(|(name, _)| {
                format!("[tenant.{name}] sets tick_lateness but its clock is \"event\": it acts on clock = \"wall\" tenants only")
            })
            .collect()
    }

    /// The settings of `tenant` (its table, else the defaults).
    pub fn tenant(&self, tenant: &str) -> &TenantConfig {
        self.tenants.get(tenant).unwrap_or(&self.default_tenant)
    }

    /// The events-per-second limit of the token named `name` (None: unlimited).
    pub fn rate_limit(&self, name: &str) -> Option<f64> {
        let own = self.tokens.iter().find(|t| t.name == name).and_then(|t| t.rate_limit);
        own.or((self.server.rate_limit > 0.0).then_some(self.server.rate_limit))
    }

    /// The token table used for authentication.
    pub fn token_table(&self) -> TokenTable {
        TokenTable {
            tokens: self
                .tokens
                .iter()
                .filter_map(|t| {
                    let mut h = [0u8; 32];
                    hex::decode_to_slice(&t.sha256, &mut h).ok()?;
                    Some((h, Identity { name: t.name.clone(), tenant: t.tenant.clone(), role: t.role }))
                })
                .collect(),
        }
    }
}

/// The source of the records the server writes itself (ticks): no token may be named so.
pub const SERVER_SOURCE: &str = "server";

/// Tenant names: they appear in URLs, metric labels and file names.
pub fn valid_tenant(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Who a request is, once its secret matched a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The token's name (the events' `source`).
    pub name: String,
    /// Its tenant.
    pub tenant: String,
    /// Its role.
    pub role: Role,
}

/// The configured tokens, by the SHA-256 of their secret.
#[derive(Clone, Default)]
pub struct TokenTable {
    tokens: Vec<([u8; 32], Identity)>,
}

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenTable({} tokens)", self.tokens.len())
    }
}

impl TokenTable {
    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The identity of a presented secret, comparing against every token in constant
    /// time (the secret is hashed first, and every stored hash is compared whether or
    /// not an earlier one matched).
    pub fn authenticate(&self, secret: &str) -> Option<Identity> {
        let h: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
        let mut found = None;
        for (stored, id) in &self.tokens {
            if bool::from(stored.ct_eq(&h)) && found.is_none() {
                found = Some(id.clone());
            }
        }
        found
    }
}

/// The SHA-256 of a secret as lowercase hex (what `sha256 = ` holds).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_example() {
        let text = format!(
            r#"
[[token]]
name = "acd-1"
tenant = "acme"
role = "producer"
sha256 = "{}"

[tenant.acme]
timezone = "Asia/Shanghai"
clock = "wall"

[tenant.acme.rules]
not_ready_max = "15m"
"#,
            hash_secret("s3cret")
        );
        let cfg = Config::parse(&text).unwrap();
        let id = cfg.token_table().authenticate("s3cret").unwrap();
        assert_eq!((id.name.as_str(), id.tenant.as_str(), id.role), ("acd-1", "acme", Role::Producer));
        assert!(cfg.token_table().authenticate("wrong").is_none());
        assert_eq!(cfg.tenant("acme").clock, ClockMode::Wall);
        assert_eq!(cfg.tenant("other").timezone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn occupancy_retention_defaults_to_35_days() {
        let days = |n: u64| Dur::mins(n * 24 * 60);
        let text = "[defaults]\nclock = \"event\"\n\n[tenant.acme.occupancy]\ninterval = \"30m\"\n\n\
                    [tenant.short.occupancy]\nretention = \"1d\"\n";
        let cfg = Config::parse(text).unwrap();
        assert_eq!(cfg.tenant("other").occupancy().settings.retention, days(35));
        assert_eq!(cfg.tenant("acme").occupancy().settings.retention, days(35));
        assert_eq!(cfg.tenant("short").occupancy().settings.retention, days(1));
        assert_eq!(Config::parse("").unwrap().tenant("x").occupancy.retention, days(35));
    }

    #[test]
    fn tenants_named_by_tokens_without_a_table_are_listed() {
        let tok = |name: &str, tenant: &str| {
            format!(
                "[[token]]\nname = \"{name}\"\ntenant = \"{tenant}\"\nrole = \"producer\"\nsha256 = \"{}\"\n",
                hash_secret(name)
            )
        };
        let text =
            format!("{}{}{}{}[tenant.acme]\n", tok("a", "acme"), tok("b", "acmee"), tok("c", "zed"), tok("d", "acmee"));
        let cfg = Config::parse(&text).unwrap();
        assert_eq!(cfg.tenants_without_table(), ["acmee", "zed"]);
        assert!(
            Config::parse(&format!("{}[tenant.acme]\n", tok("a", "acme"))).unwrap().tenants_without_table().is_empty()
        );
    }

    #[test]
    fn wall_clock_settings_on_an_event_clock_tenant_are_named() {
        let cfg = Config::parse(
            "[tenant.acme]\nclock = \"event\"\ntick_lateness = \"2s\"\n\n[tenant.beta]\nclock = \"event\"\nmax_future = \"1d\"\n\n\
             [tenant.gamma]\ntick_lateness = \"2s\"\nmax_future = \"1m\"\n",
        )
        .unwrap();
        assert_eq!(
            cfg.ignored_settings(),
            ["[tenant.acme] sets tick_lateness but its clock is \"event\": it acts on clock = \"wall\" tenants only"]
        );
    }

    #[test]
    fn stamps_are_bounded_around_the_servers_clock_under_either_clock() {
        let cfg = Config::parse(
            "[tenant.wall]\n\n[tenant.event]\nclock = \"event\"\n\n\
             [tenant.set]\nclock = \"event\"\nmax_future = \"2d\"\nmax_past = \"30d\"\n",
        )
        .unwrap();
        let t = |n: &str| cfg.tenants[n].clone();
        assert_eq!((t("wall").future_limit(), t("wall").max_past), (Dur::mins(5), DEFAULT_MAX_PAST));
        assert_eq!((t("event").future_limit(), t("event").max_past), (DEFAULT_EVENT_MAX_FUTURE, DEFAULT_MAX_PAST));
        assert_eq!((t("set").future_limit(), t("set").max_past), (Dur(2 * 86_400_000), Dur(30 * 86_400_000)));
        let e = Config::parse("[tenant.x]\nmax_past = \"5m\"\n").unwrap_err().to_string();
        assert!(e.contains("max_past must be at least 10m"), "{e}");
        let e = Config::parse("[tenant.x]\nmax_past = 30\n").unwrap_err().to_string();
        assert!(e.contains("unit"), "{e}");
    }

    #[test]
    fn two_tokens_with_one_secret_are_refused() {
        let h = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let text = format!(
            "[[token]]\nname=\"a\"\ntenant=\"t\"\nrole=\"reader\"\nsha256=\"{h}\"\n\n\
             [[token]]\nname=\"b\"\ntenant=\"u\"\nrole=\"admin\"\nsha256=\"{}\"\n",
            h.to_uppercase()
        );
        let e = Config::parse(&text).unwrap_err().to_string();
        assert!(e.contains("(name \"b\")") && e.contains("same `sha256` as the token named \"a\""), "{e}");
    }

    #[test]
    fn no_token_may_take_the_servers_own_source_name() {
        let h = "a".repeat(64);
        let e =
            Config::parse(&format!("[[token]]\nname=\"server\"\ntenant=\"t\"\nrole=\"producer\"\nsha256=\"{h}\"\n"))
                .unwrap_err()
                .to_string();
        assert!(e.contains("\"server\" is the server's own"), "{e}");
    }

    #[test]
    fn rejects_what_it_does_not_know_with_the_key_named() {
        let e = Config::parse("[tenant.acme]\ntimezon = \"UTC\"\n").unwrap_err().to_string();
        assert!(e.contains("timezon"), "{e}");
        let e = Config::parse("[tenant.acme]\ntimezone = \"Mars/Olympus\"\n").unwrap_err().to_string();
        assert!(e.contains("Mars/Olympus") || e.contains("timezone"), "{e}");
        let e = Config::parse("[tenant.acme]\nclock = \"sundial\"\n").unwrap_err().to_string();
        assert!(e.contains("sundial") || e.contains("clock"), "{e}");
        let e = Config::parse("[[token]]\nname=\"a\"\ntenant=\"t\"\nrole=\"producer\"\nsha256=\"abc\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sha256"), "{e}");
        let e = Config::parse("[[token]]\nname=\"a\"\ntenant=\"t\"\nrole=\"king\"\nsha256=\"abc\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("king") || e.contains("role"), "{e}");
        assert!(Config::parse("this is = not toml [").is_err());
        let e = Config::parse("[tenant.acme]\nallowed_lateness = \"1h\"\n").unwrap_err().to_string();
        assert!(e.contains("allowed_lateness"), "{e}");
        let e = Config::parse("[tenant.acme.rules]\nnot_ready_max = \"15 parsecs\"\n").unwrap_err().to_string();
        assert!(e.contains("parsecs") || e.contains("not_ready_max"), "{e}");
    }

    #[test]
    fn rule_parameters_that_make_no_sense_are_refused_with_what_to_write() {
        let err = |body: &str| Config::parse(&format!("[tenant.acme.rules]\n{body}\n")).unwrap_err().to_string();
        // A bare number: 15 seconds or 15 minutes? Refused, with both spellings offered.
        let e = err("not_ready_max = 15");
        assert!(e.contains("not_ready_max") && e.contains(r#"write "15s" for seconds or "15m" for minutes"#), "{e}");
        let e = err("wrap_up_max = \"120\"");
        assert!(e.contains(r#""120s""#), "{e}");
        for key in ["not_ready_max", "wrap_up_max", "escalate_within"] {
            let e = err(&format!("{key} = \"0s\""));
            assert!(e.contains(&format!("`{key}` must be longer than 0")) && e.contains("disabled"), "{e}");
        }
        let e = err("max_rings = 0");
        assert!(e.contains("`max_rings` must be at least 1"), "{e}");
        let e = err("login_by = \"09:00\"\nlate_after = \"08:30\"");
        assert!(e.contains("`login_by` (09:00) is after `late_after` (08:30)"), "{e}");
        // Zero where zero means something is kept: no grace for absence, no lateness.
        assert!(Config::parse("[tenant.acme]\nallowed_lateness = \"0s\"\n[tenant.acme.rules]\nabsent_after = \"0m\"\nlogin_by = \"08:30\"\n").is_ok());
    }
}
