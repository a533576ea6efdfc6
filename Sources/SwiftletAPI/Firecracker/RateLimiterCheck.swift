/// Rate limiters: Swiftlet has none, but Kata and the SDKs send one with every drive and
/// interface, usually empty. An absent, null or empty limiter, or one whose buckets are all
/// disabled (Firecracker disables a bucket whose size or refill_time is 0), is accepted;
/// a real limit is refused, since silently ignoring it would be a lie to the operator.
enum RateLimiterCheck {
    static func check(_ value: JSONValue?, field: String, section: String) throws(APIFault) {
        guard let value else { return }
        let limiter = try FieldReader(value, section: "\(section): \(field)", fields: ["bandwidth", "ops"])
        for bucket in ["bandwidth", "ops"] {
            guard let bucketValue = limiter.value(bucket) else { continue }
            let fields = try FieldReader(bucketValue, section: "\(section): \(field).\(bucket)", fields: ["size", "one_time_burst", "refill_time"])
            let size = try fields.optionalInteger("size", in: 0...UInt64.max) ?? 0
            let refill = try fields.optionalInteger("refill_time", in: 0...UInt64.max) ?? 0
            _ = try fields.optionalInteger("one_time_burst", in: 0...UInt64.max)
            guard size == 0 || refill == 0 else {
                throw APIFault("\(section): \(field): rate limiting is not supported; send it empty or leave it out")
            }
        }
    }
}
