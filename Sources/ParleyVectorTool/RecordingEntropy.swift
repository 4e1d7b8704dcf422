import ParleyCrypto
import Synchronization

/// Wraps an entropy source and records every request in order, labelled with
/// the purpose the tool announced before the step that draws it. An
/// unannounced draw stops the tool: the vector file must account for every
/// random byte a call consumes, or a replay of it would silently diverge.
///
/// The recorded bytes include secrets (identity seeds, CPace scalars): that is
/// the point of a test vector, and why this type lives only in the vector tool.
final class RecordingEntropy: EntropySource {
    struct Draw {
        let purpose: String
        let bytes: [UInt8]
    }

    private struct State {
        var announced: [String] = []
        var draws: [Draw] = []
    }

    private let source: EntropySource
    private let state = Mutex(State())

    init(wrapping source: EntropySource) {
        self.source = source
    }

    /// Announces the purposes of the next draws, in the order they will happen.
    func expect(_ purposes: String...) {
        state.withLock { $0.announced += purposes }
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        source.fill(buffer)
        state.withLock { state in
            precondition(!state.announced.isEmpty, "unannounced random draw of \(buffer.count) bytes")
            state.draws.append(Draw(purpose: state.announced.removeFirst(), bytes: Array(buffer)))
        }
    }

    /// Every draw so far. Stops the tool if an announced draw never happened.
    var draws: [Draw] {
        state.withLock { state in
            precondition(state.announced.isEmpty, "announced draws that never happened: \(state.announced)")
            return state.draws
        }
    }

    /// The bytes of the one draw made for `purpose`.
    func bytes(for purpose: String) -> [UInt8] {
        let matching = draws.filter { $0.purpose == purpose }
        precondition(matching.count == 1, "expected exactly one draw for \(purpose), found \(matching.count)")
        return matching[0].bytes
    }
}
