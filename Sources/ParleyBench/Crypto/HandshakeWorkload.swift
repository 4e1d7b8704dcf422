import ParleyCrypto

/// One complete call handshake, caller and callee both, including erasing the
/// resulting keys (what a call costs in CPU before the first frame).
final class HandshakeWorkload: Workload {
    let name: String
    let batchSize = 4
    let payloadBytes: Int? = nil
    let displayUnit = DisplayUnit.microseconds
    private let fixture: CallFixture
    // Each device parses the code its user typed; parsed once, as a call would.
    private let callerCode: SecurityCode?
    private let calleeCode: SecurityCode?

    /// - Parameter securityCode: the code both people typed, or nil for none.
    init(fixture: CallFixture, securityCode: String?) throws {
        name = securityCode.map { "call handshake, code \($0)" } ?? "call handshake, no code"
        self.fixture = fixture
        callerCode = try SecurityCode.parse(securityCode)
        calleeCode = try SecurityCode.parse(securityCode)
    }

    deinit {
        callerCode?.erase()
        calleeCode?.erase()
    }

    func measure(_ count: Int) throws -> Duration {
        let clock = ContinuousClock()
        var mismatches = 0
        let start = clock.now
        for _ in 0..<count {
            let keys = try fixture.establish(callerCode: callerCode, calleeCode: calleeCode)
            if keys.caller.sas != keys.callee.sas { mismatches += 1 }
            keys.caller.erase()
            keys.callee.erase()
        }
        let elapsed = start.duration(to: clock.now)
        guard mismatches == 0 else { throw BenchmarkError(workload: name, problem: "\(mismatches) handshakes ended with different SAS") }
        return elapsed
    }
}
