//! What the conformance oracle (tests/it/conformance_oracle.rs) expects of each client auth
//! scenario of the pinned suite through authtap: the suite's verdict, the rule ids that must
//! name the scenario's deliberate deviation, and the commented allow-list of the suite's real
//! deviations.

/// What the suite says about a scenario when its client runs through authtap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passes, as it does directly.
    Passes,
    /// Known to break through reverse mode; the message says why (and the test prints, not
    /// fails, when it does — it fails when the expected rule is missing).
    MayFail(&'static str),
    /// Fails directly as well (measured), for the reason given; must fail through authtap too.
    FailsAsDirect(&'static str),
}

/// One pinned runner of the suite and the scenarios it is asked for.
pub struct Suite {
    /// The pinned runner.
    pub runner: &'static super::install::Runner,
    /// The expectations (every scenario it runs).
    pub expectations: &'static [Expect],
    /// Whether `expectations` must equal every `auth/` scenario the runner lists (else each
    /// must merely be listed).
    pub complete: bool,
}

pub const SUITE_0_1_16: Suite = Suite {
    runner: &super::install::RUNNERS[0],
    expectations: EXPECTATIONS,
    complete: true,
};

pub const SUITE_2026_07_28: Suite = Suite {
    runner: &super::install::RUNNERS[1],
    expectations: EXPECTATIONS_2026_07_28,
    complete: false,
};

/// Why the 2026-07-28 scenarios fail directly with the pinned client.
const LEGACY_CLIENT: &str = "the pinned TS SDK 1.32 client sends no Mcp-Method/MCP-Protocol-Version on initialize; the 2026-07-28 fake server answers -32020";

/// The 2026-07-28-only client auth scenarios of 0.2.0-alpha.12 (the others repeat 0.1.16's).
/// Every one names MCP-RPC-HEADER-MISMATCH: the client's initialize without the 2026-07-28
/// headers, rejected -32020 (MCP 2026-07-28 Streamable HTTP "Server Validation").
const EXPECTATIONS_2026_07_28: &[Expect] = &[
    Expect {
        // PRM authorization_servers changes between runs; the client must re-register (SEP-2352).
        // The client stops at -32020 before the migration, so only the header mismatch shows.
        scenario: "auth/authorization-server-migration",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/iss-supported",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/iss-not-advertised",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH"],
        allowed: &[],
    },
    Expect {
        // Advertised, then absent: the AS's deviation, and the client redeemed the code anyway.
        scenario: "auth/iss-supported-missing",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-MISSING",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &[],
    },
    Expect {
        // iss names another issuer (X-ISSUER-CHAIN: the same break seen along the chain).
        scenario: "auth/iss-wrong-issuer",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-MISMATCH",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &["X-ISSUER-CHAIN"],
    },
    Expect {
        // iss sent (and wrong) although the metadata does not advertise it.
        scenario: "auth/iss-unexpected",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-UNADVERTISED",
            "CB-ISS-MISMATCH",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &["X-ISSUER-CHAIN"],
    },
    Expect {
        // iss equal to the issuer only after normalisation, which clients must not apply.
        scenario: "auth/iss-normalized",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-MISMATCH",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &["X-ISSUER-CHAIN"],
    },
    Expect {
        // AS metadata whose issuer differs from the one its URL was built from.
        scenario: "auth/metadata-issuer-mismatch",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH", "ASM-ISSUER-MISMATCH"],
        allowed: &["X-ISSUER-CHAIN"],
    },
];

/// The expectation for one client auth scenario.
pub struct Expect {
    /// The scenario name (`auth/…`).
    pub scenario: &'static str,
    /// The suite's verdict through authtap.
    pub verdict: Verdict,
    /// Rule ids that must fire: the scenario's deliberate deviation.
    pub named: &'static [&'static str],
    /// Further error/warning rule ids allowed in this scenario only, each a real deviation of
    /// the suite's fake server or of its example client (the reason is in the comment).
    pub allowed: &'static [&'static str],
}

/// Error/warning findings allowed in every scenario: real deviations of the suite's fake
/// servers (0.1.16) or of its example client, true whatever authtap does.
pub const SUITE_DEVIATIONS: &[(&str, &str)] = &[
    // OAuth 2.1 §3.2.3 / RFC 6749 §5.1: token responses MUST carry Cache-Control: no-store;
    // the suite's token endpoint sends none.
    ("TOKEN-RESP-NO-STORE", "token response without no-store"),
    // RFC 7591 §3.2.1: client_secret_expires_at is REQUIRED when a client_secret is issued;
    // the suite's /register omits it.
    ("DCR-SECRET-NO-EXPIRY", "client_secret without expiry"),
    // MCP 2025-11-25 Transports "Listening for Messages": a GET must get an SSE stream or
    // 405; the suite answers GET /mcp with Express's 404 HTML page.
    ("MCP-GET-NOT-SSE-OR-405", "GET /mcp answered 404"),
    // The suite's SSE answers are sent whole with Content-Length.
    ("SSE-BUFFERED", "SSE with Content-Length"),
    // OAuth 2.1 §4.1.1 / RFC 9700 §2.1: the example client implements no
    // OAuthClientProvider.state(), so the SDK sends no `state` — a real client deviation.
    ("AUTHZ-NO-STATE", "example client sends no state"),
];

/// One row per client auth scenario of the pinned suite (the test fails when the suite lists
/// a scenario that is not here, or this lists one the suite does not have).
const EXPECTATIONS: &[Expect] = &[
    Expect {
        scenario: "auth/metadata-default",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/metadata-var1",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/metadata-var2",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // PRM at a custom resource_metadata path: reverse mode rewrites the challenge and the
        // document served there (issue: "metadata-var3 passes").
        scenario: "auth/metadata-var3",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/basic-cimd",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/scope-from-www-authenticate",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/scope-from-scopes-supported",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/scope-omitted-when-undefined",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // The deliberate step: tools/call answered 403 insufficient_scope naming a scope the
        // first token lacks (MCP 2025-11-25 Authorization "Scope Challenge Handling").
        scenario: "auth/scope-step-up",
        verdict: Verdict::Passes,
        named: &["X-SCOPE-INSUFFICIENT"],
        // OAuth 2.1 §4.1.3: a code is single-use; the suite's AS hands out the same code
        // string on the second authorization and accepts it again.
        allowed: &["X-CODE-REUSE"],
    },
    Expect {
        // The server answers 403 insufficient_scope every time, even to a token that holds
        // the scope it names; the client must give up after a few tries.
        scenario: "auth/scope-retry-limit",
        verdict: Verdict::Passes,
        named: &["X-TOKEN-REJECTED-AFTER-ISSUE"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/token-endpoint-auth-basic",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/token-endpoint-auth-post",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/token-endpoint-auth-none",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // No registration_endpoint and no CIMD on purpose: the client is pre-registered.
        scenario: "auth/pre-registration",
        verdict: Verdict::Passes,
        named: &["ASM-NO-REGISTRATION-NO-CIMD"],
        allowed: &[],
    },
    Expect {
        // A 2025-03-26 server: no PRM, AS metadata on the MCP origin.
        scenario: "auth/2025-03-26-oauth-metadata-backcompat",
        verdict: Verdict::Passes,
        named: &["PRM-ABSENT"],
        // RFC 8414 §3.3: the suite serves issuer `<origin>/oauth` at the root well-known URL,
        // so the issuer differs from the one the URL was built from.
        allowed: &[
            "ASM-ISSUER-MISMATCH",
            "X-ISSUER-CHAIN",
            "ASM-PATH-ISSUER-ROOT-ONLY",
            "WWWAUTH-NO-RESOURCE-METADATA",
        ],
    },
    Expect {
        // A 2025-03-26 server with no metadata at all: the client falls back to /authorize,
        // /token and /register on the MCP origin.
        scenario: "auth/2025-03-26-oauth-endpoint-fallback",
        verdict: Verdict::Passes,
        named: &["PRM-ABSENT", "ASM-NOT-FOUND", "X-DEFAULT-ENDPOINTS"],
        allowed: &["WWWAUTH-NO-RESOURCE-METADATA"],
    },
    Expect {
        // PRM `resource` names another server; the client must refuse to go on.
        scenario: "auth/resource-mismatch",
        verdict: Verdict::Passes,
        named: &["PRM-RESOURCE-NE-REQUEST-URL"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/offline-access-scope",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/offline-access-not-supported",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // The client signs a private_key_jwt assertion whose `aud` is the issuer it was told,
        // which reverse mode rewrote; authtap cannot re-sign it and must say so.
        scenario: "auth/client-credentials-jwt",
        verdict: Verdict::MayFail("a signed assertion's aud cannot be rewritten"),
        named: &["X-ASSERTION-AUD-REWRITTEN"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/client-credentials-basic",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // The example client builds the AS metadata URL with `new URL('/.well-known/…',
        // issuer)`, dropping the issuer's path; reverse mode's rewritten issuer has a path.
        scenario: "auth/cross-app-access-complete-flow",
        verdict: Verdict::MayFail("the client drops the path of the rewritten issuer"),
        named: &[],
        allowed: &["ASM-NOT-FOUND"],
    },
];
