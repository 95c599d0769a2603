//! Hand-made histories with a known verdict, one behaviour per test.

use raft_tests::linearizability::{check, Checker, History, KeyVerdict, Op, Operation, Output, Verdict};

fn put(v: &str) -> Op {
    Op::Put { key: "x".into(), value: v.into() }
}
fn get() -> Op {
    Op::Get { key: "x".into() }
}
fn cas(expected: Option<&str>, new: &str) -> Op {
    Op::Cas { key: "x".into(), expected: expected.map(str::to_string), new: new.into() }
}
fn done(client: u64, op: Op, invoke: u64, complete: u64, output: Output) -> Operation {
    Operation::completed(client, op, invoke, complete, output)
}
fn read(v: Option<&str>) -> Output {
    Output::Value(v.map(str::to_string))
}

fn assert_linearizable(ops: Vec<Operation>) {
    let report = check(&History::new(ops)).unwrap();
    assert!(report.is_linearizable(), "expected linearizable, got:\n{report}");
}

fn assert_violation(ops: Vec<Operation>) -> raft_tests::linearizability::Violation {
    let report = check(&History::new(ops)).unwrap();
    match report.verdict() {
        Verdict::NotLinearizable(v) => v,
        other => panic!("expected a violation, got {other:?}:\n{report}"),
    }
}

#[test]
fn stale_read_after_acknowledged_write_is_rejected_with_explanation() {
    let v = assert_violation(vec![done(1, put("1"), 0, 10, Output::Ok), done(2, get(), 20, 30, read(None))]);
    assert_eq!(v.key, "x");
    assert_eq!(v.linearized_prefix, vec![0]);
    assert_eq!(v.state_after_prefix.as_deref(), Some("1"));
    assert_eq!(v.stuck_op, 1);
    assert!(v.explanation.contains("cannot place #1"), "{}", v.explanation);
}

#[test]
fn lost_write_that_flips_back_is_rejected() {
    assert_violation(vec![
        done(1, put("1"), 0, 10, Output::Ok),
        done(2, put("2"), 0, 10, Output::Ok),
        done(3, get(), 20, 30, read(Some("2"))),
        done(3, get(), 40, 50, read(Some("1"))),
    ]);
}

#[test]
fn acknowledged_write_never_visible_is_rejected() {
    assert_violation(vec![
        done(1, put("1"), 0, 10, Output::Ok),
        done(2, put("2"), 20, 30, Output::Ok),
        done(3, get(), 40, 50, read(Some("1"))),
    ]);
}

#[test]
fn two_cas_from_the_same_value_cannot_both_win() {
    assert_violation(vec![
        done(1, put("0"), 0, 10, Output::Ok),
        done(2, cas(Some("0"), "a"), 20, 40, Output::Cas(true)),
        done(3, cas(Some("0"), "b"), 20, 40, Output::Cas(true)),
    ]);
}

#[test]
fn one_cas_winning_and_one_losing_is_legal() {
    assert_linearizable(vec![
        done(1, put("0"), 0, 10, Output::Ok),
        done(2, cas(Some("0"), "a"), 20, 40, Output::Cas(true)),
        done(3, cas(Some("0"), "b"), 20, 40, Output::Cas(false)),
        done(1, get(), 50, 60, read(Some("a"))),
    ]);
}

#[test]
fn read_of_a_value_never_written_is_rejected() {
    assert_violation(vec![done(1, put("1"), 0, 10, Output::Ok), done(2, get(), 5, 30, read(Some("ghost")))]);
}

#[test]
fn concurrent_writes_are_legal_in_the_order_reads_imply() {
    // put(1) spans put(2); the read after put(2) saw 1, so put(1) took effect last.
    assert_linearizable(vec![
        done(1, put("1"), 0, 100, Output::Ok),
        done(2, put("2"), 10, 20, Output::Ok),
        done(3, get(), 30, 40, read(Some("2"))),
        done(3, get(), 50, 60, read(Some("1"))),
        done(3, get(), 110, 120, read(Some("1"))),
    ]);
}

#[test]
fn delete_makes_the_key_absent_and_cas_from_absent_can_win() {
    assert_linearizable(vec![
        done(1, put("1"), 0, 10, Output::Ok),
        done(1, Op::Delete { key: "x".into() }, 20, 30, Output::Ok),
        done(2, cas(None, "2"), 40, 50, Output::Cas(true)),
        done(2, get(), 60, 70, read(Some("2"))),
    ]);
}

#[test]
fn indeterminate_write_may_take_effect_late() {
    assert_linearizable(vec![
        Operation::indeterminate(1, put("1"), 0),
        done(2, get(), 10, 20, read(None)),
        done(2, get(), 30, 40, read(Some("1"))),
    ]);
}

#[test]
fn indeterminate_write_may_never_take_effect() {
    assert_linearizable(vec![Operation::indeterminate(1, put("1"), 0), done(2, get(), 100, 200, read(None))]);
}

#[test]
fn indeterminate_write_cannot_be_undone() {
    assert_violation(vec![
        Operation::indeterminate(1, put("1"), 0),
        done(2, get(), 10, 20, read(Some("1"))),
        done(2, get(), 30, 40, read(None)),
    ]);
}

#[test]
fn indeterminate_write_cannot_take_effect_before_it_was_invoked() {
    assert_violation(vec![done(2, get(), 10, 20, read(Some("1"))), Operation::indeterminate(1, put("1"), 30)]);
}

#[test]
fn indeterminate_cas_takes_effect_only_if_its_comparison_holds() {
    let base = || vec![done(1, put("0"), 0, 10, Output::Ok), Operation::indeterminate(2, cas(Some("0"), "a"), 20)];
    let mut legal = base();
    legal.push(done(3, get(), 30, 40, read(Some("a"))));
    assert_linearizable(legal);
    let mut illegal = base();
    illegal.push(done(1, put("1"), 30, 40, Output::Ok));
    illegal.push(done(3, get(), 50, 60, read(Some("a"))));
    // cas(0 -> a) could only apply before put(1), which then overwrote "a".
    assert_violation(illegal);
}

#[test]
fn indeterminate_read_constrains_nothing() {
    assert_linearizable(vec![done(1, put("1"), 0, 10, Output::Ok), Operation::indeterminate(2, get(), 20)]);
}

#[test]
fn keys_are_checked_independently_and_the_failing_key_is_named() {
    let other = |op| done(9, op, 0, 5, Output::Ok);
    let v = assert_violation(vec![
        other(Op::Put { key: "fine".into(), value: "1".into() }),
        done(1, put("1"), 0, 10, Output::Ok),
        done(2, get(), 20, 30, read(Some("2"))),
    ]);
    assert_eq!(v.key, "x");
}

#[test]
fn exhausted_budget_is_reported_as_unknown_not_as_a_violation() {
    // Many observed indeterminate writes, then an impossible read: proving the
    // violation needs to rule out every interleaving.
    let n = 14;
    let mut ops: Vec<Operation> = (0..n).map(|i| Operation::indeterminate(i, put(&format!("v{i}")), 0)).collect();
    for i in 0..n {
        ops.push(done(100, get(), 10 + 10 * i, 15 + 10 * i, read(Some(&format!("v{i}")))));
    }
    ops.push(done(100, get(), 1000, 1010, read(Some("ghost"))));
    let history = History::new(ops);
    let small = Checker::with_budget(1_000).check(&history).unwrap();
    assert_eq!(small.verdict(), Verdict::Unknown { keys: vec!["x".into()] });
    assert!(matches!(&small.keys["x"].verdict, KeyVerdict::Unknown { reason } if reason.contains("1000 steps")));
    assert!(small.to_string().contains("search budget"), "{small}");
    let big = Checker::with_budget(50_000_000).check(&history).unwrap();
    assert!(matches!(big.verdict(), Verdict::NotLinearizable(_)), "{big}");
}

#[test]
fn malformed_history_is_an_error_not_a_verdict() {
    let h = History::new(vec![done(1, get(), 0, 10, Output::Ok)]);
    assert!(check(&h).is_err());
}
