//! The "one value, one encoding" check, without allocating a second copy.

use serde::Serialize;

/// Encodes as DAG-CBOR into a vector that grows by doubling (the crate's own `to_vec`
/// grows in exact steps, which turns large payloads quadratic).
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(256);
    serde_ipld_dagcbor::to_writer(&mut out, value).map_err(|e| e.to_string())?;
    Ok(out)
}

/// True if encoding `value` as DAG-CBOR yields exactly `bytes`.
///
/// Streams the encoder's output against `bytes` and stops at the first difference, so a
/// decode costs one parse plus one encode pass and no allocation for the comparison.
pub(crate) fn encodes_to<T: Serialize>(value: &T, bytes: &[u8]) -> bool {
    let mut cmp = Compare { rest: bytes };
    serde_ipld_dagcbor::to_writer(&mut cmp, value).is_ok() && cmp.rest.is_empty()
}

struct Compare<'a> {
    rest: &'a [u8],
}

impl std::io::Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.rest.split_at_checked(buf.len()) {
            Some((head, tail)) if head == buf => {
                self.rest = tail;
                Ok(buf.len())
            }
            _ => Err(std::io::Error::other("encoding differs")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_equal_shorter_longer_and_different() {
        let v = vec![1u32, 2, 3];
        let bytes = serde_ipld_dagcbor::to_vec(&v).unwrap();
        assert!(encodes_to(&v, &bytes));
        assert!(!encodes_to(&v, &bytes[..bytes.len() - 1]));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(!encodes_to(&v, &longer));
        let mut diff = bytes;
        diff[1] ^= 1;
        assert!(!encodes_to(&v, &diff));
    }
}
