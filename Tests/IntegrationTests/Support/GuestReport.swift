import Testing

/// The test guest's last word: "testguest: N checks, M failed".
struct GuestReport: Equatable {
    let checks: Int
    let failed: Int

    /// The last report line in `stdout`, if any.
    init?(_ stdout: String) {
        guard let line = stdout.split(whereSeparator: \.isNewline).last(where: { $0.hasPrefix("testguest: ") && $0.hasSuffix(" failed") })
        else { return nil }
        let words = line.split(separator: " ")
        guard words.count == 5, words[2] == "checks,", let checks = Int(words[1]), let failed = Int(words[3]) else { return nil }
        self.checks = checks
        self.failed = failed
    }
}

/// The guest reported, ran at least one check, and none failed: a run that checked
/// nothing is a failure, not a pass.
func expectGuestChecksPassed(_ stdout: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let report = GuestReport(stdout) else {
        Issue.record("the guest never reported its checks: \(stdout.suffix(2000))", sourceLocation: sourceLocation)
        return
    }
    #expect(report.checks > 0, "the guest ran no check: \(stdout.suffix(2000))", sourceLocation: sourceLocation)
    #expect(report.failed == 0, "\(stdout.suffix(4000))", sourceLocation: sourceLocation)
}
