//! Kafka's default partitioner for keyed records: `toPositive(murmur2(key)) % partitions`,
//! exactly as the Java client computes it, so that letsdata writes a document id to the
//! partition any Kafka producer would.

/// Kafka's murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`), as the signed
/// 32-bit value Java returns.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    // Java's `int length`: only the low 32 bits take part.
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The index (among `partitions` partitions) Kafka's default partitioner picks for `key`:
/// `Utils.toPositive(Utils.murmur2(key)) % partitions`. `partitions` must not be 0.
pub fn partition_for(key: &[u8], partitions: usize) -> usize {
    let positive = (murmur2(key) & 0x7fff_ffff) as usize;
    positive % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Kafka's UtilsTest.testMurmur2 and Akka's Murmur2Spec (from the Java implementation).
        let cases: &[(&str, i32)] = &[
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
            ("1", -1_993_445_489),
            ("12", 126_087_238),
            ("123", -267_702_483),
            ("1234", -1_614_185_708),
            ("12345", -1_188_365_604),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key.as_bytes()), *expected, "murmur2({key:?})");
        }
    }

    #[test]
    fn partitions_follow_to_positive_modulo() {
        // toPositive(-973932308) = -973932308 & 0x7fffffff = 1173551340.
        assert_eq!(partition_for(b"21", 3), 1_173_551_340 % 3);
        assert_eq!(partition_for(b"21", 10), 0);
        // toPositive(479470107) is itself.
        assert_eq!(partition_for(b"abc", 7), 479_470_107 % 7);
        assert_eq!(partition_for(b"anything", 1), 0);
        let spread: std::collections::BTreeSet<usize> = (0..100)
            .map(|i| partition_for(format!("doc-{i}").as_bytes(), 4))
            .collect();
        assert_eq!(spread.len(), 4, "100 keys reach every partition");
    }
}
