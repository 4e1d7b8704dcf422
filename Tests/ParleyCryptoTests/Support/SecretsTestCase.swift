import ParleyCrypto
import XCTest

/// Base class for every ParleyCrypto test: records the live-secrets counter before
/// each test and fails the test if any secret it created is still alive (not
/// erased and not freed) when it ends. XCTest runs the tests of a process one at
/// a time, so the counter belongs to the running test.
class SecretsTestCase: XCTestCase {
    private var secretsBaseline = 0

    override func setUp() {
        super.setUp()
        secretsBaseline = SecretBytes.liveCount
    }

    override func tearDown() {
        XCTAssertEqual(SecretBytes.liveCount, secretsBaseline,
                       "secrets created by this test are still alive: something kept a key past its call")
        super.tearDown()
    }
}
