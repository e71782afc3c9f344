//! Timestamps: LetsData reports datetimes as epoch milliseconds.

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
