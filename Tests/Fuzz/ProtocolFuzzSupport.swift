// The libFuzzer hooks of the ParleyProtocol fuzz targets (FuzzSignalEnvelope,
// FuzzSessionDescription, FuzzMediaReassembly, FuzzReliablePacket). Each of those binaries
// is this file, FuzzCommon.swift (oracle, input reader, seed writer), one target file and
// every ParleyProtocol source compiled as one module, importing ParleyCrypto built first
// as its own module (run.sh, build_protocol_target), so the harness reaches
// ParleyProtocol's internal API without an import. FuzzSupport.swift is the ParleyCrypto
// targets' counterpart (it runs a call handshake these targets do not need).
//
// A target file provides:
//   - `fuzzOneInput(_:)`, which runs one input;
//   - `fuzzSeeds()`, the seed inputs, written to a directory on request.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: libFuzzer hooks

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    fuzzOneInput(&input)
    return 0
}

/// With PARLEY_FUZZ_SEED_DIR set, writes the target's seed inputs into that directory
/// and exits instead of fuzzing.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    if let directory = getenv("PARLEY_FUZZ_SEED_DIR") {
        writeSeeds(fuzzSeeds(), into: String(cString: directory))
        exit(0)
    }
    return 0
}
