//! Table tests of [`crate::poller`].

use super::*;

const INTERVAL: Duration = Duration::from_secs(3);

fn manifest(revision: u64, full: bool, etag: Option<&str>) -> Manifest {
    Manifest {
        revision,
        full,
        files: Vec::new(),
        deleted: Vec::new(),
        etag: etag.map(str::to_owned),
        store_id: Some("store-a".to_owned()),
        refused: Vec::new(),
        contents: Default::default(),
    }
}

fn from_store(store_id: &str, mut manifest: Manifest) -> Manifest {
    manifest.store_id = Some(store_id.to_owned());
    manifest
}

/// Brings a poller to "applied a full manifest at revision 5, ETag e5".
fn converged(long_poll: bool) -> Poller {
    let mut poller = Poller::new(long_poll, INTERVAL, false);
    assert!(matches!(poller.query(None), ManifestQuery::Full));
    let full = manifest(5, true, Some("e5"));
    assert_eq!(
        poller.manifest(&full, None),
        Verdict::Apply { backwards: None }
    );
    poller.applied(Duration::ZERO);
    poller
}

fn shown(query: &ManifestQuery) -> String {
    match query {
        ManifestQuery::Full => "full".to_owned(),
        ManifestQuery::IfNoneMatch(etag) => format!("if-none-match {etag}"),
        ManifestQuery::LongPoll { since } => format!("long-poll since {since}"),
        ManifestQuery::Since { since } => format!("since {since}"),
    }
}

#[test]
fn the_request_steps_down_when_the_server_refuses_a_kind_of_request() {
    // (mode at start, statuses of successive failures, request asked
    // after the last failure, then after the next successful full cycle)
    let cases: Vec<(bool, &[u16], &str, &str)> = vec![
        (true, &[], "long-poll since 5", "long-poll since 5"),
        (false, &[], "since 5", "since 5"),
        (true, &[400], "full", "since 5"),
        (true, &[501], "full", "since 5"),
        // A refused full request steps down no further.
        (true, &[405, 400], "full", "since 5"),
        (false, &[400], "full", "if-none-match e5"),
        // Errors about the app or the load keep the mode.
        (true, &[404, 429, 500, 503], "full", "long-poll since 5"),
    ];
    for (long_poll, statuses, after_failures, after_recovery) in cases {
        let mut poller = converged(long_poll);
        for status in statuses {
            let query = poller.query(Some(5));
            assert!(poller.failed(Some(&query), Some(*status)).is_some());
        }
        let case = format!("long_poll={long_poll} statuses={statuses:?}");
        assert_eq!(shown(&poller.query(Some(5))), after_failures, "{case}");
        poller.manifest(&manifest(5, true, Some("e5")), Some(5));
        poller.applied(Duration::ZERO);
        assert_eq!(shown(&poller.query(Some(5))), after_recovery, "{case}");
    }
    // Two refusals, each after a successful cycle, reach the plainest.
    let mut poller = converged(true);
    for expected in ["since 5", "if-none-match e5"] {
        let query = poller.query(Some(5));
        poller.failed(Some(&query), Some(400));
        poller.manifest(&manifest(5, true, Some("e5")), Some(5));
        poller.applied(Duration::ZERO);
        assert_eq!(shown(&poller.query(Some(5))), expected);
    }
}

#[test]
fn the_pause_after_an_answer_depends_on_the_request_and_its_duration() {
    let long = ManifestQuery::LongPoll { since: 5 };
    let since = ManifestQuery::Since { since: 5 };
    let second = Duration::from_secs(1);
    let cases: Vec<(&str, bool, ManifestQuery, Option<Duration>, Next)> = vec![
        (
            "held long-poll, idle",
            true,
            long.clone(),
            Some(30 * second),
            Next::Now,
        ),
        (
            "long-poll not held",
            true,
            long,
            Some(Duration::from_millis(5)),
            Next::After(INTERVAL),
        ),
        (
            "poll, idle",
            false,
            since.clone(),
            Some(second),
            Next::After(2 * second),
        ),
        (
            "slow poll, idle",
            false,
            since,
            Some(4 * second),
            Next::After(Duration::ZERO),
        ),
        (
            "long-poll, applied",
            true,
            ManifestQuery::Full,
            None,
            Next::Now,
        ),
        (
            "poll, applied",
            false,
            ManifestQuery::Full,
            None,
            Next::After(INTERVAL),
        ),
    ];
    for (case, long_poll, query, idle_for, expected) in cases {
        let mut poller = converged(long_poll);
        let next = match idle_for {
            Some(elapsed) => poller.unchanged(&query, elapsed, Some("store-a")),
            None => poller.applied(Duration::ZERO),
        };
        assert_eq!(next, expected, "{case}");
    }
}

#[test]
fn a_revision_going_backwards_resyncs_a_delta_and_applies_a_full_manifest() {
    let mut poller = converged(true);
    assert_eq!(
        poller.manifest(&manifest(3, false, None), Some(5)),
        Verdict::Resync { previous: 5 }
    );
    assert_eq!(shown(&poller.query(Some(5))), "full");
    assert_eq!(
        poller.manifest(&manifest(3, true, Some("e3")), Some(5)),
        Verdict::Apply { backwards: Some(5) }
    );
    poller.applied(Duration::ZERO);
    assert_eq!(shown(&poller.query(Some(3))), "long-poll since 3");
    // A delta moving forward keeps the ETag of the last full manifest.
    assert_eq!(
        poller.manifest(&manifest(4, false, None), Some(3)),
        Verdict::Apply { backwards: None }
    );
    let mut conditional = converged(false);
    conditional.failed(Some(&ManifestQuery::Since { since: 5 }), Some(400));
    conditional.manifest(&manifest(6, true, Some("e6")), Some(5));
    conditional.applied(Duration::ZERO);
    assert_eq!(shown(&conditional.query(Some(6))), "if-none-match e6");
}

#[test]
fn a_failed_apply_asks_for_the_full_manifest_with_a_growing_pause() {
    let mut poller = converged(true);
    let first = poller.failed(None, None).expect("retried");
    assert_eq!(shown(&poller.query(Some(5))), "full");
    let second = poller.failed(None, None).expect("retried");
    assert!(first <= Duration::from_millis(200) && second >= Duration::from_millis(200));
    // A success resets the pause.
    poller.applied(Duration::ZERO);
    let again = poller.failed(None, None).expect("retried");
    assert!(again <= Duration::from_millis(200), "{again:?}");
}

#[test]
fn once_exits_after_converging_and_gives_up_after_its_attempts() {
    let mut poller = Poller::new(true, INTERVAL, true);
    assert_eq!(poller.applied(Duration::ZERO), Next::Exit);
    let mut poller = Poller::new(true, INTERVAL, true);
    for _ in 1..ONCE_ATTEMPTS {
        assert!(poller.failed(Some(&ManifestQuery::Full), None).is_some());
    }
    assert_eq!(poller.failed(Some(&ManifestQuery::Full), None), None);
}

#[test]
fn an_answer_from_another_store_brings_the_full_manifest_whatever_the_revisions() {
    // (case, the answer after converging on store-a at revision 5, the
    // verdict or next step, the request that follows)
    enum Answer {
        Manifest(Manifest),
        Unchanged(Option<&'static str>),
    }
    let apply = Some(Verdict::Apply { backwards: None });
    let cases: Vec<(&str, Answer, Option<Verdict>, &str)> = vec![
        (
            "a delta ahead, from a new store",
            Answer::Manifest(from_store("store-b", manifest(9, false, None))),
            Some(Verdict::OtherStore),
            "full",
        ),
        (
            "a delta at a lower revision, from a new store",
            Answer::Manifest(from_store("store-b", manifest(2, false, None))),
            Some(Verdict::OtherStore),
            "full",
        ),
        (
            "a delta ahead, from our store",
            Answer::Manifest(manifest(6, false, None)),
            apply,
            "long-poll since 6",
        ),
        (
            "a delta from a server that names no store",
            Answer::Manifest(from_store("", manifest(6, false, None)).without_store()),
            apply,
            "long-poll since 6",
        ),
        (
            "a full manifest from a new store is applied and adopted",
            Answer::Manifest(from_store("store-b", manifest(7, true, Some("b7")))),
            apply,
            "long-poll since 7",
        ),
        (
            "unchanged, from a new store",
            Answer::Unchanged(Some("store-b")),
            None,
            "full",
        ),
        (
            "unchanged, from our store",
            Answer::Unchanged(Some("store-a")),
            None,
            "long-poll since 5",
        ),
        (
            "unchanged, no store named",
            Answer::Unchanged(None),
            None,
            "long-poll since 5",
        ),
    ];
    for (case, answer, verdict, then) in cases {
        let mut poller = converged(true);
        let on_disk = match answer {
            Answer::Manifest(manifest) => {
                assert_eq!(Some(poller.manifest(&manifest, Some(5))), verdict, "{case}");
                if verdict == apply {
                    poller.applied(Duration::ZERO);
                    manifest.revision
                } else {
                    5
                }
            }
            Answer::Unchanged(store_id) => {
                let query = poller.query(Some(5));
                let next = poller.unchanged(&query, Duration::from_secs(30), store_id);
                assert_eq!(next, Next::Now, "{case}");
                5
            }
        };
        assert_eq!(shown(&poller.query(Some(on_disk))), then, "{case}");
    }
    // Once the new store's full manifest is applied, its deltas apply too.
    let mut poller = converged(true);
    poller.manifest(&from_store("store-b", manifest(2, true, None)), Some(5));
    poller.applied(Duration::ZERO);
    assert_eq!(
        poller.manifest(&from_store("store-b", manifest(3, false, None)), Some(2)),
        Verdict::Apply { backwards: None }
    );
}

impl Manifest {
    fn without_store(mut self) -> Manifest {
        self.store_id = None;
        self
    }
}
