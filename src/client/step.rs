//! The step builder of the built-in client: every request the client makes ends as one
//! [`Step`] in the flow report, written as
//! `self.step("dcr", Phase::Registration).at("POST", &url).reply(&reply).fail("no client_id")`.
//! A failed step stops the flow (`Err(Stop)`).

use super::flow::{Flow, Res, Stop};
use super::message::Reply;
use super::report::{Outcome, Step};
use crate::model::Phase;

/// A step being recorded; finish it with [`StepRecord::ok`], [`StepRecord::warn`],
/// [`StepRecord::fail`] or [`StepRecord::outcome`].
#[must_use = "a step is recorded only by ok/warn/fail/outcome"]
pub(super) struct StepRecord<'a> {
    flow: &'a mut Flow,
    name: &'a str,
    phase: Phase,
    method: &'a str,
    url: &'a str,
    reply: Option<&'a Reply>,
}

impl Flow {
    /// Starts recording the step `name` of `phase`.
    pub fn step<'a>(&'a mut self, name: &'a str, phase: Phase) -> StepRecord<'a> {
        StepRecord {
            flow: self,
            name,
            phase,
            method: "",
            url: "",
            reply: None,
        }
    }
}

impl<'a> StepRecord<'a> {
    /// The request's method and URL.
    pub fn at(mut self, method: &'a str, url: &'a str) -> Self {
        self.method = method;
        self.url = url;
        self
    }

    /// The reply the step got (status and elapsed time come from it).
    pub fn reply(mut self, reply: &'a Reply) -> Self {
        self.reply = Some(reply);
        self
    }

    /// The reply, when there may be none.
    pub fn reply_opt(mut self, reply: Option<&'a Reply>) -> Self {
        self.reply = reply;
        self
    }

    /// Records the step as it went as the spec says.
    pub fn ok(self, note: impl Into<String>) -> Res<()> {
        self.outcome(Outcome::Ok, note)
    }

    /// Records a deviation the client worked around.
    pub fn warn(self, note: impl Into<String>) -> Res<()> {
        self.outcome(Outcome::Warn, note)
    }

    /// Records a step the flow cannot go past; always `Err(Stop)`.
    pub fn fail(self, note: impl Into<String>) -> Res<()> {
        self.outcome(Outcome::Fail, note)
    }

    /// Records the step with `outcome`; returns `Err(Stop)` when it failed.
    pub fn outcome(self, outcome: Outcome, note: impl Into<String>) -> Res<()> {
        let step = Step {
            name: self.name.to_string(),
            phase: self.phase,
            method: self.method.to_string(),
            url: self.url.to_string(),
            status: self.reply.map(|r| r.status),
            outcome,
            note: note.into(),
            elapsed_ms: self
                .reply
                .map(|r| r.elapsed.as_millis() as u64)
                .unwrap_or(0),
        };
        let flow = self.flow;
        if let Some(tx) = &flow.cfg.progress {
            let _ = tx.send(step.clone());
        }
        flow.report.steps.push(step);
        if outcome == Outcome::Fail {
            flow.report.stopped_at = Some(self.name.to_string());
            return Err(Stop);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::super::ClientConfig;
    use super::*;

    #[tokio::test]
    async fn a_failed_step_is_recorded_reported_and_stops_the_flow() {
        // A port nothing listens on: the first request (the unauthenticated probe) fails.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/mcp");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut cfg = ClientConfig::new(url.clone());
        cfg.progress = Some(tx);
        let report = Flow::run(cfg).await;
        assert_eq!(report.steps.len(), 1, "{:?}", report.steps);
        let step = &report.steps[0];
        assert_eq!(step.phase, Phase::McpTransport);
        assert_eq!(step.method, "POST");
        assert_eq!(step.url, url);
        assert_eq!(step.status, None);
        assert_eq!(step.outcome, Outcome::Fail);
        assert!(!step.note.is_empty());
        assert_eq!(report.stopped_at.as_deref(), Some(step.name.as_str()));
        assert!(!report.completed);
        let sent = rx.recv().await.unwrap();
        assert_eq!(
            (sent.name, sent.note),
            (step.name.clone(), step.note.clone())
        );
    }
}
