//! CEL conditions over attestations.
//!
//! Variables: `predicate` (the in-toto predicate), `statement` (the whole statement) and
//! `image` (`reference`, `digest`, `registry`, `repository`). The result must be a boolean;
//! anything else, an evaluation error, a panic inside the interpreter, or running past the
//! time budget is an error, and an error fails the requirement (`condition-error`).
//!
//! Budget: conditions are limited to [`super::model::MAX_CONDITION_CHARS`] characters at
//! load, and each evaluation runs on its own thread with a deadline ([`DEFAULT_BUDGET`]). A
//! condition that overruns is reported as an error at the deadline; its thread is left to
//! finish in the background (it holds only its own copies of the inputs).

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
        let err = r.unwrap_err();
        assert!(err.contains("did not finish"), "{err}");
    }
}
