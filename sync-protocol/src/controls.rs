//! Controls an operator asks of a running preview
//! (`POST /v1/apps/{appId}/preview/restart`, `.../rebuild`), and how its
//! daemon learns of them: it holds `GET .../preview/control?after=<seq>&wait=<s>`
//! (sync token), answered with the newest [`Control`] once its `seq` is
//! above `after`, or `204` when the wait ends first.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlKind {
    /// Stop the dev server and start it again.
    Restart,
    /// Stop it, remove `node_modules` and the frameworks' caches, install, start.
    Rebuild,
}

impl ControlKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlKind::Restart => "restart",
            ControlKind::Rebuild => "rebuild",
        }
    }

    pub fn parse(text: &str) -> Option<ControlKind> {
        [ControlKind::Restart, ControlKind::Rebuild]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One control, numbered per app (a later one has a larger `seq`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    pub seq: u64,
    pub kind: ControlKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_api_names() {
        for kind in [ControlKind::Restart, ControlKind::Rebuild] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(ControlKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ControlKind::parse("reboot"), None);
    }
}
