import CNice

/// Turns libnice's component states and Parley's connect timeout into the transport's
/// states, without I/O: each input returns the new state when it changed, nil otherwise.
///
/// Rules (Signalling/spec-drafts/ice.md, "States"):
/// - states only move forward: new → gathering → connecting → connected;
/// - libnice CONNECTED or READY is `connected` (READY after CONNECTED changes nothing);
/// - libnice FAILED (or DISCONNECTED) before connected is `failed(connectivityChecksFailed)`,
///   after connected `disconnected(consentLost)`: libnice reports a consent timeout or a
///   403 to a consent check as FAILED of a connected component;
/// - the connect timeout fails a transport that is not connected yet;
/// - failed, disconnected and closed are terminal: later inputs change nothing.
struct IceConnectionTracker {
    private(set) var state: IceTransportState = .new

    mutating func gatheringStarted() -> IceTransportState? {
        guard state == .new else { return nil }
        return move(to: .gathering)
    }

    mutating func componentStateChanged(_ niceState: NiceComponentState) -> IceTransportState? {
        guard !state.isTerminal else { return nil }
        switch niceState {
        case NICE_COMPONENT_STATE_GATHERING:
            return state == .new ? move(to: .gathering) : nil
        case NICE_COMPONENT_STATE_CONNECTING:
            return state == .new || state == .gathering ? move(to: .connecting) : nil
        case NICE_COMPONENT_STATE_CONNECTED, NICE_COMPONENT_STATE_READY:
            return state == .connected ? nil : move(to: .connected)
        case NICE_COMPONENT_STATE_FAILED, NICE_COMPONENT_STATE_DISCONNECTED:
            if state == .connected {
                return move(to: .disconnected(IceError(.consentLost,
                    "the peer stopped answering consent checks (RFC 7675) or revoked consent: it vanished or ended the path")))
            }
            // libnice reports DISCONNECTED for a component that has not started; only
            // FAILED ends a connection attempt.
            guard niceState == NICE_COMPONENT_STATE_FAILED else { return nil }
            return move(to: .failed(IceError(.connectivityChecksFailed,
                "every candidate pair failed its connectivity checks after the peer's end-of-candidates")))
        default:
            return nil
        }
    }

    mutating func connectTimedOut(after timeout: Duration) -> IceTransportState? {
        guard !state.isTerminal, state != .connected else { return nil }
        return move(to: .failed(IceError(.connectTimeout, "not connected within \(timeout) (state was \(state))")))
    }

    mutating func closed() {
        state = .closed
    }

    private mutating func move(to next: IceTransportState) -> IceTransportState {
        state = next
        return next
    }
}
