use super::*;

fn verdict(slot: &str, image: &str, outcome: Outcome, digest: Option<&Digest>) -> ImageVerdict {
    ImageVerdict {
        slot: slot.to_owned(),
        image: image.to_owned(),
        pointer: format!("/spec/{slot}"),
        outcome,
        reason: (outcome != Outcome::Allowed).then(|| "no-signatures".to_owned()),
        message: (outcome != Outcome::Allowed).then(|| "nothing verified".to_owned()),
        digest: digest.cloned(),
    }
}
