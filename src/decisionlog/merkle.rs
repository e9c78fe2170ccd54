//! RFC 6962 (and RFC 9162 §2.1) Merkle trees over SHA-256: leaf and node hashes, tree heads,
//! inclusion and consistency proofs and their verification. Pure functions, no I/O.

/// A SHA-256 hash (a leaf, a node or a tree head).
pub type Hash = [u8; 32];

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The index is not inside the tree (or the old size is larger than the new one).
    #[error("index or size out of range: {index} of a tree of {size}")]
    OutOfRange {
        /// The leaf index (or the old tree size).
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for the index and size.
    #[error("the proof has {actual} hashes, {expected} were expected")]
    WrongLength {
        /// How many the sizes call for.
        expected: usize,
        /// How many it has.
        actual: usize,
    },
    /// The hashes lead to a different tree head.
    #[error("the proof does not lead to the tree head")]
    RootMismatch,
}

/// The hash of a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&[0x00]);
    ctx.update(data);
    to_hash(ctx.finish().as_ref())
}

/// The hash of an inner node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&[0x01]);
    ctx.update(left);
    ctx.update(right);
    to_hash(ctx.finish().as_ref())
}

/// The head of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    to_hash(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"").as_ref())
}

/// The tree head (MTH) over `leaves` (leaf hashes).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split(leaves.len());
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof (audit path, RFC 6962 §2.1.1) of leaf `index` in the tree of `leaves`,
/// from the leaf's sibling up; `None` when `index` is not a leaf.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Option<Vec<Hash>> {
    let i = usize::try_from(index).ok()?;
    if i >= leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    path(leaves, i, &mut out);
    Some(out)
}

fn path(leaves: &[Hash], i: usize, out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    if i < k {
        path(&leaves[..k], i, out);
        out.push(root(&leaves[k..]));
    } else {
        path(&leaves[k..], i - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// The consistency proof (RFC 6962 §2.1.2) between the tree of the first `old` leaves and the
/// tree of all `leaves`; `None` when `old` is larger than the tree.
pub fn consistency_proof(leaves: &[Hash], old: u64) -> Option<Vec<Hash>> {
    let m = usize::try_from(old).ok()?;
    if m > leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut out);
    }
    Some(out)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Check that `leaf` is leaf `index` of the tree of `size` leaves with head `root`, given its
/// inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let expected = inclusion_length(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            actual: proof.len(),
        });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::RootMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && &r == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Check that the tree of `old` leaves with head `old_root` is a prefix of the tree of `new`
/// leaves with head `new_root`, given their consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange {
            index: old,
            size: new,
        });
    }
    if old == new || old == 0 {
        // Nothing to prove beyond equal heads (same size) or the empty prefix.
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        return if old == 0 || old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut proof: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongLength {
            expected: 1,
            actual: 0,
        });
    };
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::RootMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && &fr == old_root && &sr == new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The tree head kept as its perfect subtrees (a compact range from 0): appends and heads in
/// O(log n), without keeping the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactTree {
    size: u64,
    /// Roots of the perfect subtrees, largest (leftmost) first: one per set bit of `size`.
    peaks: Vec<Hash>,
}

impl CompactTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            // The peak to merge with is always there: one per set bit of `size`.
            let Some(left) = self.peaks.pop() else { break };
            h = node_hash(&left, &h);
            s >>= 1;
        }
        self.peaks.push(h);
        self.size += 1;
    }

    /// The tree head.
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

fn inclusion_length(index: u64, size: u64) -> usize {
    // Bits that differ between index and the last index, plus the levels above where the
    // right edge was not a full subtree.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// The largest power of two smaller than `n` (n >= 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

fn to_hash(bytes: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(bytes);
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The leaves of the RFC 6962 reference tree (certificate-transparency's test data).
    const DATA: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    /// The heads of the first 1..=8 of them.
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| match DATA.get(i) {
                Some(d) => leaf_hash(&hex::decode(d).unwrap()),
                None => leaf_hash(format!("leaf {i}").as_bytes()),
            })
            .collect()
    }

    #[test]
    fn reference_heads() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(root(&[]), empty_root());
        for (n, want) in ROOTS.iter().enumerate() {
            assert_eq!(hex::encode(root(&leaves(n + 1))), *want, "size {}", n + 1);
        }
    }

    #[test]
    fn reference_inclusion_proof() {
        let proof = inclusion_proof(&leaves(8), 0).unwrap();
        let want = [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        assert_eq!(proof.iter().map(hex::encode).collect::<Vec<_>>(), want);
    }

    #[test]
    fn compact_tree_matches_the_recursive_head() {
        let all = leaves(70);
        let mut t = CompactTree::new();
        assert_eq!(t.root(), empty_root());
        for (i, l) in all.iter().enumerate() {
            t.push(*l);
            assert_eq!(t.size(), i as u64 + 1);
            assert_eq!(t.root(), root(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn inclusion_proofs_for_every_size_up_to_20() {
        for n in 1..=20u64 {
            let all = leaves(n as usize);
            let head = root(&all);
            for i in 0..n {
                let p = inclusion_proof(&all, i).unwrap();
                verify_inclusion(i, n, &all[i as usize], &p, &head).unwrap();
                // A wrong leaf, a wrong index, a changed hash, a short proof all fail.
                let other = leaf_hash(b"not a leaf");
                assert_eq!(
                    verify_inclusion(i, n, &other, &p, &head),
                    Err(ProofError::RootMismatch)
                );
                if n > 1 {
                    let j = (i + 1) % n;
                    assert!(verify_inclusion(j, n, &all[i as usize], &p, &head).is_err());
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(i, n, &all[i as usize], &bad, &head).is_err());
                    assert!(verify_inclusion(i, n, &all[i as usize], &p[1..], &head).is_err());
                }
            }
            assert!(inclusion_proof(&all, n).is_none());
            assert!(matches!(
                verify_inclusion(n, n, &all[0], &[], &head),
                Err(ProofError::OutOfRange { .. })
            ));
        }
    }

    #[test]
    fn consistency_proofs_for_every_size_up_to_20() {
        for n in 1..=20u64 {
            let all = leaves(n as usize);
            let new_root = root(&all);
            for m in 0..=n {
                let old_root = root(&all[..m as usize]);
                let p = consistency_proof(&all, m).unwrap();
                verify_consistency(m, n, &old_root, &new_root, &p).unwrap();
                if m > 0 && m < n {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_consistency(m, n, &old_root, &new_root, &bad).is_err());
                    let wrong_old = leaf_hash(b"rewritten");
                    assert!(verify_consistency(m, n, &wrong_old, &new_root, &p).is_err());
                    assert!(verify_consistency(m, n, &old_root, &wrong_old, &p).is_err());
                }
                if m == n && n > 0 {
                    let other = leaf_hash(b"other");
                    assert!(verify_consistency(m, n, &other, &new_root, &p).is_err());
                }
            }
            assert!(consistency_proof(&all, n + 1).is_none());
            assert!(verify_consistency(n + 1, n, &new_root, &new_root, &[]).is_err());
        }
    }
}
