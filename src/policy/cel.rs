//! CEL conditions over attestations.
//!
//! Variables: `predicate` (the in-toto predicate), `statement` (the whole statement) and
//! `image` (`reference`, `digest`, `registry`, `repository`). The result must be a boolean;
//! anything else, an evaluation error, a panic inside the interpreter, or running past the
//! time budget is an error, and an error fails the requirement (`condition-error`).
//!
//! Budget, in three layers: conditions are limited to [`super::model::MAX_CONDITION_CHARS`]
//! characters at load; before running, a condition's cost over the actual inputs is
//! estimated and refused past [`Limits::max_cel_cost`](crate::limits::Limits::max_cel_cost)
//! (the interpreter, `cel` 0.15, has no cost limit or cancellation of its own, so an
//! evaluation that starts cannot be stopped); and each evaluation runs on its own thread with
//! a deadline ([`DEFAULT_BUDGET`]) as the backstop for what the estimate misses; a condition
//! that overruns it is reported as an error at the deadline and its thread is left to finish
//! in the background (it holds only its own copies of the inputs).
//!
//! The estimate, like Kubernetes' CEL cost estimate but over the real inputs instead of
//! declared maximum sizes: every node costs 1, and a comprehension (`all`, `exists`,
//! `exists_one`, `map`, `filter`) costs its body times the size of its range, where a range
//! that is a list literal has its length and any other the largest list or map in the
//! inputs. Nested comprehensions multiply. It is an upper bound for ranges taken from the
//! inputs; a range built by concatenation can be larger, which the deadline catches.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use super::glob::NormalisedImage;
use crate::format::digest::Digest;

/// Time allowed for one condition.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(500);

/// Compiles a condition to check its syntax.
pub(crate) fn compile_check(source: &str) -> Result<(), String> {
    cel::Program::compile(source)
        .map(|_| ())
        .map_err(|e| format!("invalid CEL condition: {}", first_line(&e.to_string())))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// The `image` variable.
pub(crate) fn image_value(reference: &str, digest: &Digest, image: &NormalisedImage) -> Value {
    json!({
        "reference": reference,
        "digest": digest.to_string(),
        "registry": image.registry(),
        "repository": image.path(),
    })
}

/// Evaluates `source` with the three variables, within `budget`. `Ok(bool)` is the result;
/// `Err` is why it could not be evaluated (never silently `true`).
pub fn evaluate_condition(
    source: &str,
    predicate: &Value,
    statement: &Value,
    image: &Value,
    budget: Duration,
) -> Result<bool, String> {
    let (tx, rx) = mpsc::channel();
    let source = source.to_string();
    let (predicate, statement, image) = (predicate.clone(), statement.clone(), image.clone());
    let spawned = std::thread::Builder::new()
        .name("imprint-cel".into())
        .stack_size(8 * 1024 * 1024)
        .spawn(move || {
            let result = run(&source, predicate, statement, image);
            // The receiver may have given up (deadline); nothing to do then.
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start condition evaluation: {e}"));
    }
    match rx.recv_timeout(budget) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "condition did not finish within {} ms",
            budget.as_millis()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("condition evaluation aborted (interpreter panic)".into())
        }
    }
}

fn run(source: &str, predicate: Value, statement: Value, image: Value) -> Result<bool, String> {
    let program = cel::Program::compile(source)
        .map_err(|e| format!("invalid CEL condition: {}", first_line(&e.to_string())))?;
    let max = crate::limits::Limits::DEFAULT.max_cel_cost;
    let largest = [&predicate, &statement, &image]
        .into_iter()
        .map(largest_collection)
        .max()
        .unwrap_or(0);
    let cost = estimated_cost(program.expression(), largest as u64);
    if cost > max {
        return Err(format!(
            "max_cel_cost: the condition's estimated cost over these inputs is {cost} \
             (largest list or map: {largest}), over the limit of {max}"
        ));
    }
    let mut context = cel::Context::default();
    for (name, value) in [
        ("predicate", predicate),
        ("statement", statement),
        ("image", image),
    ] {
        context
            .add_variable(name, value)
            .map_err(|e| format!("cannot bind `{name}`: {e}"))?;
    }
    match program.execute(&context) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "condition returned {}, not a boolean",
            type_name(&other)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The largest array or object length anywhere in `v` (iterative: `v` may be deep).
fn largest_collection(v: &Value) -> usize {
    let mut largest = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => {
                largest = largest.max(a.len());
                stack.extend(a);
            }
            Value::Object(o) => {
                largest = largest.max(o.len());
                stack.extend(o.values());
            }
            // Strings are not ranges: comprehensions iterate lists and maps only.
            _ => {}
        }
    }
    largest
}

/// The estimated evaluation cost of `e` when any range from the inputs has at most
/// `largest` items (see the module docs). Saturates instead of overflowing.
fn estimated_cost(e: &cel::IdedExpr, largest: u64) -> u64 {
    use cel::common::ast::{EntryExpr, Expr};
    let c = |e: &cel::IdedExpr| estimated_cost(e, largest);
    let sum = |es: &mut dyn Iterator<Item = &cel::IdedExpr>| {
        es.fold(0u64, |acc, e| acc.saturating_add(c(e)))
    };
    let own = match &e.expr {
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => 0,
        Expr::Select(s) => c(&s.operand),
        Expr::Call(call) => sum(&mut call.target.as_deref().into_iter().chain(&call.args)),
        Expr::List(l) => sum(&mut l.elements.iter()),
        Expr::Map(m) => m.entries.iter().fold(0u64, |acc, entry| {
            acc.saturating_add(match &entry.expr {
                EntryExpr::MapEntry(me) => c(&me.key).saturating_add(c(&me.value)),
                EntryExpr::StructField(f) => c(&f.value),
            })
        }),
        Expr::Struct(st) => st.entries.iter().fold(0u64, |acc, entry| {
            acc.saturating_add(match &entry.expr {
                EntryExpr::MapEntry(me) => c(&me.key).saturating_add(c(&me.value)),
                EntryExpr::StructField(f) => c(&f.value),
            })
        }),
        Expr::Comprehension(comp) => {
            let items = match &comp.iter_range.expr {
                Expr::List(l) => l.elements.len() as u64,
                _ => largest,
            };
            let body = c(&comp.loop_cond).saturating_add(c(&comp.loop_step));
            c(&comp.iter_range)
                .saturating_add(c(&comp.accu_init))
                .saturating_add(items.saturating_mul(body))
                .saturating_add(c(&comp.result))
        }
    };
    own.saturating_add(1)
}

fn type_name(value: &cel::Value) -> String {
    value.type_of().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn eval(source: &str, predicate: Value) -> Result<bool, String> {
        evaluate_condition(
            source,
            &predicate,
            &json!({"predicate": predicate.clone(), "predicateType": "x"}),
            &json!({"reference": "r", "digest": "sha256:00", "registry": "ghcr.io", "repository": "a/b"}),
            DEFAULT_BUDGET,
        )
    }

    #[test]
    fn true_false_and_variables() {
        let p = json!({"builder": {"id": "https://github.com/x"}});
        assert_eq!(
            eval(
                "predicate.builder.id.startsWith('https://github.com/')",
                p.clone()
            ),
            Ok(true)
        );
        assert_eq!(
            eval("predicate.builder.id == 'other'", p.clone()),
            Ok(false)
        );
        assert_eq!(
            eval(
                "image.registry == 'ghcr.io' && statement.predicateType == 'x'",
                p
            ),
            Ok(true)
        );
    }

    #[test]
    fn errors_never_pass() {
        let p = json!({"a": 1});
        assert!(eval("predicate.missing.field == 1", p.clone()).is_err());
        let non_bool = eval("predicate.a", p.clone()).unwrap_err();
        assert!(non_bool.contains("not a boolean"), "{non_bool}");
        assert!(eval("1 / 0 == 1", p).is_err());
    }

    #[test]
    fn compile_errors() {
        assert!(compile_check("predicate.a ==").is_err());
        assert!(compile_check("predicate.a == 1").is_ok());
    }

    #[test]
    fn hostile_shapes_fail_cleanly() {
        // The parser refuses deep nesting (compile error at load, not a crash).
        let deep = format!("{}1{} == 1", "(".repeat(1500), ")".repeat(1500));
        assert!(compile_check(&deep).is_err());
        let deep_list = format!("{}1{} == []", "[".repeat(1500), "]".repeat(1500));
        assert!(compile_check(&deep_list).is_err());
        // Long flat chains evaluate on the evaluation thread's own stack.
        let nots = format!("{}true", "!".repeat(4000));
        assert_eq!(eval(&nots, json!({})), Ok(true));
        let sum = format!("1{} == 1001", " + 1".repeat(1000));
        assert_eq!(eval(&sum, json!({})), Ok(true));
    }

    /// Regression (issue 10): a costly condition ran until the deadline, and then on in a
    /// detached thread (the interpreter cannot be stopped). Now its cost over the inputs is
    /// estimated first and refused past max_cel_cost, before anything runs, in no time.
    #[test]
    fn an_estimated_cost_over_the_limit_is_refused_before_running() {
        let big: Vec<u64> = (0..5_000).collect();
        let p = json!({"xs": big});
        let started = std::time::Instant::now();
        let err = eval(
            "predicate.xs.map(x, predicate.xs.exists(y, y == x)).size() > 0",
            p.clone(),
        )
        .unwrap_err();
        assert!(err.contains("max_cel_cost"), "{err}");
        assert!(err.contains("5000"), "largest list named: {err}");
        assert!(started.elapsed() < Duration::from_millis(400));
        // One pass over the same 5000 items is well within the limit.
        assert_eq!(eval("predicate.xs.exists(x, x == 4999)", p), Ok(true));
        // A list literal range counts its own length, not the largest input.
        let tiny = json!({"ys": (0..100_000).collect::<Vec<u64>>()});
        assert_eq!(eval("[1, 2, 3].all(x, x > 0)", tiny), Ok(true));
    }

    #[test]
    fn estimates_multiply_for_nested_comprehensions() {
        let program = |s: &str| cel::Program::compile(s).unwrap();
        let one = estimated_cost(program("xs.exists(x, x == 1)").expression(), 100);
        let two = estimated_cost(
            program("xs.exists(x, xs.exists(y, y == x))").expression(),
            100,
        );
        assert!((100..1_000).contains(&one), "{one}");
        assert!((100 * 100..100_000).contains(&two), "{two}");
        assert_eq!(
            estimated_cost(program("1 == 1").expression(), u64::MAX),
            3,
            "no comprehension: node count"
        );
    }

    #[test]
    fn budget_is_enforced() {
        // A large comprehension over a big list, with a tiny budget.
        let big: Vec<u64> = (0..5_000).collect();
        let p = json!({"xs": big});
        let r = evaluate_condition(
            "predicate.xs.map(x, predicate.xs.exists(y, y == x)).size() > 0",
            &p,
            &json!({}),
            &json!({}),
            Duration::from_millis(50),
        );
        // Refused by the cost estimate now (before, by the deadline); either way an error.
        let err = r.unwrap_err();
        assert!(
            err.contains("did not finish") || err.contains("max_cel_cost"),
            "{err}"
        );
    }
}
