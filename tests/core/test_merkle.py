"""RFC 6962 Merkle trees against published vectors and an independent level-by-level implementation."""

import hashlib

import pytest

from kechuang.core import merkle

# The test leaves and roots of certificate-transparency's reference implementation (RFC 6962).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _levels_root(leaves):
    """Independent construction: hash pairs level by level, an odd last node moves up unchanged."""
    level = [hashlib.sha256(b"\x00" + d).digest() for d in leaves]
    if not level:
        return hashlib.sha256(b"").digest()
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def test_published_roots():
    assert merkle.tree_hash([]).hex() == hashlib.sha256(b"").hexdigest()
    for n in range(1, 9):
        assert merkle.tree_hash(LEAVES[:n]).hex() == ROOTS[n - 1]


def test_published_audit_path():
    # PATH(0, D[8]) of the reference vectors: nearest sibling first.
    path = merkle.inclusion_proof(0, LEAVES)
    assert [p.hex()[:8] for p in path] == ["96a296d2", "5f083f0a", "6b47aaf2"]


@pytest.mark.parametrize("n", list(range(1, 34)))
def test_every_proof_verifies_and_matches_independent_root(n):
    leaves = [f"leaf-{i}".encode() for i in range(n)]
    root = merkle.tree_hash(leaves)
    assert root == _levels_root(leaves)
    for m in range(n):
        path = merkle.inclusion_proof(m, leaves)
        assert merkle.verify_inclusion(m, n, leaves[m], path, root)


def test_tampering_is_refused():
    leaves = [f"entry-{i}".encode() for i in range(11)]
    root = merkle.tree_hash(leaves)
    path = merkle.inclusion_proof(6, leaves)
    assert merkle.verify_inclusion(6, 11, leaves[6], path, root)
    assert not merkle.verify_inclusion(6, 11, b"entry-X", path, root)  # edited leaf
    assert not merkle.verify_inclusion(5, 11, leaves[6], path, root)  # wrong position
    assert not merkle.verify_inclusion(6, 7, leaves[6], path, root)  # wrong size (other tree shape)
    assert not merkle.verify_inclusion(6, 11, leaves[6], path[:-1], root)  # short path
    assert not merkle.verify_inclusion(6, 11, leaves[6], [*path, path[0]], root)  # long path
    bad = [bytes(32)] + path[1:]
    assert not merkle.verify_inclusion(6, 11, leaves[6], bad, root)  # edited sibling
    assert not merkle.verify_inclusion(6, 11, leaves[6], path, merkle.tree_hash(leaves[:10]))  # other root
    assert not merkle.verify_inclusion(11, 11, leaves[6], path, root)  # index out of range
    with pytest.raises(IndexError):
        merkle.inclusion_proof(11, leaves)
