/// Why an SDP was refused, or why an offer and an answer do not fit together, with a
/// stable numeric `code` (4001-4099; the table is in Signalling/spec-drafts/sdp.md,
/// "Error codes") and a reason a person can act on.
///
/// The reason names the line number, the line type or attribute and numbers; it quotes at
/// most a short, printable token (a proto, a media type), never a whole line, never an
/// ICE password and never the SDP itself, so it can be logged as is.
public struct SDPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable codes; never renumbered.
    public enum Kind: Int, Sendable, CaseIterable {
        // Text (first pass).
        case tooLarge = 4001
        case tooManyLines = 4002
        case lineTooLong = 4003
        case invalidCharacter = 4004
        case badLineEnding = 4005
        // Lines.
        case malformedLine = 4006
        case unknownLineType = 4007
        case lineOutOfOrder = 4008
        case missingLine = 4009
        case unsupportedVersion = 4010
        case malformedOrigin = 4011
        case unsupportedTiming = 4012
        case malformedConnection = 4013
        case malformedMediaLine = 4014
        case unsupportedMedia = 4015
        case unsupportedProto = 4016
        case badPayloadType = 4017
        case tooManyMediaSections = 4018
        case tooManyCodecs = 4019
        case duplicateMid = 4020
        case invalidMid = 4021
        case malformedAttribute = 4022
        case numberOutOfRange = 4023
        case invalidIceCredentials = 4024
        case duplicateAttribute = 4025
        case misplacedAttribute = 4026
        case bundleMismatch = 4027
        case tooManyCandidates = 4028
        case malformedCandidate = 4029
        case candidateAddressRefused = 4030
        case tooManyIgnoredLines = 4031
        case unsupportedLine = 4032
        // Negotiation.
        case nothingInCommon = 4041
        case answerSectionsMismatch = 4042
        case answerMidChanged = 4043
        case answerCodecNotOffered = 4044
        case answerExceedsOffer = 4045
        case answerDirectionInvalid = 4046
        case invalidPreferences = 4047
    }

    public let kind: Kind
    /// The 1-based line of the SDP the problem was found on, when there is one.
    public let line: Int?
    /// What was wrong, for people and logs.
    public let reason: String

    public init(_ kind: Kind, line: Int? = nil, _ reason: String) {
        self.kind = kind
        self.line = line
        self.reason = reason
    }

    /// The stable numeric code, 4001-4099.
    public var code: Int { kind.rawValue }

    public var description: String {
        let at = line.map { ", line \($0)" } ?? ""
        return "SDP \(kind) (\(code))\(at): \(reason)"
    }

    /// The same error located on `line` (for field checks that do not know their line).
    func at(line: Int) -> SDPError {
        SDPError(kind, line: self.line ?? line, reason)
    }
}
