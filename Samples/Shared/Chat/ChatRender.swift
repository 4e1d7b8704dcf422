import ParleyCrypto

/// The layout, top to bottom:
///
///      parley-chat  you abcd-efgh                                   ● online     header
///      Contacts      │ · Calling bob with a security code.                          contacts | transcript
///      ● bob         │ you: hello ✓✓
///      ○ carol       │ bob: hi there
///     ☎ bob · connected  SAS 123 456  [direct]   ↑ photo.jpg ▕█████░░░░░▏ 52%        call bar
///     ✗ call failed: security codes differ (5001)                                    status
///     › message or /command                                                          input
///
/// The contact column is left out when the terminal is narrower than `sideMinimumWidth`;
/// rows are dropped from the top when it is very short, the input line last.
extension ChatModel {
    public static let sideMinimumWidth = 60
    static let sideWidth = 18

    public func render(width: Int, height: Int) -> Screen {
        let width = max(1, width)
        let height = max(1, height)
        var bottom: [ScreenLine] = []
        let (inputLine, cursorColumn) = renderInput(width: width)
        bottom.append(inputLine)
        if height >= 2 { bottom.insert(renderStatus(width: width), at: 0) }
        if height >= 3 { bottom.insert(renderCallBar(width: width), at: 0) }
        var lines: [ScreenLine] = []
        if height >= 4 { lines.append(renderHeader(width: width)) }
        let bodyHeight = height - lines.count - bottom.count
        if bodyHeight > 0 { lines += renderBody(width: width, height: bodyHeight) }
        lines += bottom
        return Screen(lines: lines, cursor: cursorColumn.map { (height - 1, $0) })
    }

    // MARK: Rows

    private func renderHeader(width: Int) -> ScreenLine {
        let state = connection.online ? "● online" : "○ \(connection.text)"
        let stateWidth = min(TerminalText.width(state) + 1, max(0, width / 2))
        let left = TerminalText.fit(" parley-chat  you \(me.fingerprint)", to: width - stateWidth)
        let right = TerminalText.fit(TerminalText.truncate(state, to: stateWidth - 1) + " ", to: stateWidth)
        return ScreenLine([Span(left, [.inverse, .bold]), Span(right, connection.online ? [.inverse, .green] : [.inverse, .yellow])])
    }

    private func renderBody(width: Int, height: Int) -> [ScreenLine] {
        let showSide = width >= Self.sideMinimumWidth
        let transcriptWidth = showSide ? width - Self.sideWidth - 2 : width
        let rows = transcriptRows(width: transcriptWidth)
        let maxScroll = max(0, rows.count - height)
        let end = rows.count - min(scrollBack, maxScroll)
        let visible = Array(rows[max(0, end - height)..<end])
        let padded = Array(repeating: ScreenLine([Span(String(repeating: " ", count: transcriptWidth))]), count: height - visible.count) + visible
        guard showSide else { return padded }
        let side = sideRows(height: height)
        return (0..<height).map { row in
            ScreenLine(side[row].spans + [Span("│ ", [.dim])] + padded[row].spans)
        }
    }

    private func sideRows(height: Int) -> [ScreenLine] {
        var rows = [ScreenLine([Span(TerminalText.fit(" Contacts", to: Self.sideWidth), [.bold])])]
        let sorted = contacts.sorted { (online.contains($0.device) ? 0 : 1, $0.name.lowercased()) < (online.contains($1.device) ? 0 : 1, $1.name.lowercased()) }
        for contact in sorted {
            let isOnline = online.contains(contact.device)
            let inCall = call?.peer == contact.device
            rows.append(ScreenLine([
                Span(" "),
                Span(isOnline ? "●" : "○", isOnline ? [.green] : [.dim]),
                Span(TerminalText.fit(" " + contact.name, to: Self.sideWidth - 2), inCall ? [.bold, .cyan] : (isOnline ? [] : [.dim])),
            ]))
        }
        if contacts.isEmpty { rows.append(ScreenLine([Span(TerminalText.fit(" (none: /add)", to: Self.sideWidth), [.dim])])) }
        let blank = ScreenLine([Span(String(repeating: " ", count: Self.sideWidth))])
        if rows.count > height {
            rows = Array(rows.prefix(height))
            if height > 1 { rows[height - 1] = ScreenLine([Span(TerminalText.fit(" …\(sorted.count - height + 2) more", to: Self.sideWidth), [.dim])]) }
        }
        return rows + Array(repeating: blank, count: height - rows.count)
    }

    /// Every transcript entry wrapped to `width`, oldest first.
    private func transcriptRows(width: Int) -> [ScreenLine] {
        var rows: [ScreenLine] = []
        for entry in transcript {
            let (prefix, prefixStyle, textStyle, suffix, suffixStyle) = decoration(entry)
            let firstWidth = max(1, width - TerminalText.width(prefix))
            var pieces: [String] = []
            for (index, paragraph) in entry.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let columns = index == 0 && pieces.isEmpty ? firstWidth : max(1, width - 2)
                pieces += TerminalText.wrap(String(paragraph), columns: columns)
            }
            if let last = pieces.last, !suffix.isEmpty {
                let columns = (pieces.count == 1 ? firstWidth : width - 2)
                if TerminalText.width(last) + TerminalText.width(suffix) > columns { pieces.append("") }
            }
            for (index, piece) in pieces.enumerated() {
                var spans = [index == 0 ? Span(prefix, prefixStyle) : Span("  ")]
                spans.append(Span(piece, textStyle))
                if index == pieces.count - 1, !suffix.isEmpty { spans.append(Span(suffix, suffixStyle)) }
                rows.append(Self.fitted(spans, to: width))
            }
        }
        return rows
    }

    private func decoration(_ entry: Entry) -> (String, TextStyle, TextStyle, String, TextStyle) {
        switch entry.kind {
        case .system: return ("· ", [.dim], [.dim], "", [])
        case .error: return ("✗ ", [.red], [.red], "", [])
        case let .theirs(name): return ("\(name): ", [.bold, .cyan], [], "", [])
        case let .mine(_, delivery):
            switch delivery {
            case .sent: return ("you: ", [.bold], [], " ✓", [.dim])
            case .delivered: return ("you: ", [.bold], [], " ✓✓", [.green])
            case .failed: return ("you: ", [.bold], [], " ✗", [.red])
            }
        }
    }

    private func renderCallBar(width: Int) -> ScreenLine {
        guard let call else {
            return Self.fitted([Span(" no call", [.bold]), Span(" · /call NAME to start one · /help for the commands", [.dim])], to: width)
        }
        let peer = name(of: call.peer)
        var spans = [Span(" ☎ "), Span(peer, [.bold, .cyan])]
        switch call.phase {
        case .calling: spans.append(Span(" · calling…"))
        case .ringing: spans.append(Span(" · is calling you", [.bold, .yellow]))
        case .securing: spans.append(Span(" · securing…"))
        case .connecting: spans.append(Span(" · connecting…"))
        case .connected: spans.append(Span(" · connected", [.green]))
        }
        if let sas = call.sas {
            spans += [Span("  "), Span(" SAS \(sas) ", [.bold, .inverse])]
        }
        if let relayed = call.relayed {
            spans += [Span("  "), relayed ? Span("[relayed]", [.bold, .yellow]) : Span("[direct]", [.bold, .green])]
        }
        if let transfer = call.transfer {
            let used = spans.reduce(0) { $0 + TerminalText.width($1.text) }
            spans += progress(transfer, columns: width - used - 3)
        }
        return Self.fitted(spans, to: width)
    }

    /// "↑ photo.jpg ▕█████░░░░░▏ 52%" in at most `columns` columns (the name shrinks first).
    private func progress(_ transfer: Transfer, columns: Int) -> [Span] {
        guard columns >= 12 else { return [] }
        let fraction = transfer.size == 0 ? 1 : min(1, Double(transfer.done) / Double(transfer.size))
        let percent = " \(Int(fraction * 100))%"
        let barWidth = min(20, max(4, columns / 3))
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        let bar = "▕" + String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled) + "▏"
        let nameWidth = columns - 2 - barWidth - 2 - TerminalText.width(percent) - 2
        let name = nameWidth >= 4 ? TerminalText.truncate(transfer.name, to: nameWidth) + " " : ""
        return [Span("   "), Span(transfer.outgoing ? "↑ " : "↓ ", [.bold]), Span(name), Span(bar, [.cyan]), Span(percent)]
    }

    private func renderStatus(width: Int) -> ScreenLine {
        if let notice {
            return Self.fitted([Span(notice.isError ? " ✗ " : " · ", notice.isError ? [.red, .bold] : []),
                                Span(notice.text, notice.isError ? [.red] : [])], to: width)
        }
        let hint: String
        switch prompt {
        case .answer: hint = "y accepts, n or Esc rejects"
        case .securityCode: hint = "the code is the one you agreed with the other person; Esc cancels"
        case .command: hint = call?.phase == .connected ? "Enter sends · /send PATH sends a file · /hangup ends the call" : "Enter sends · /help"
        }
        return Self.fitted([Span(" " + hint, [.dim])], to: width)
    }

    /// The prompt and the input line, scrolled so the cursor stays visible; the cursor column.
    private func renderInput(width: Int) -> (ScreenLine, Int?) {
        let promptText: String
        let promptStyle: TextStyle
        var shown: [Character]
        switch prompt {
        case .answer:
            promptText = call.map { "\(name(of: $0.peer)) is calling — accept? [y/n] " } ?? "accept? [y/n] "
            promptStyle = [.bold, .yellow]
            shown = []
        case .securityCode:
            promptText = "Security code (Enter for none): "
            promptStyle = [.bold]
            shown = Array(repeating: "•", count: input.characters.count)
        case .command:
            promptText = "› "
            promptStyle = [.bold, .cyan]
            shown = Self.maskedCallCode(input.characters)
        }
        let promptShown = TerminalText.truncate(promptText, to: max(0, width - 2))
        let available = max(1, width - TerminalText.width(promptShown) - 1)
        var start = 0
        func columns(_ range: Range<Int>) -> Int { shown[range].reduce(0) { $0 + TerminalText.width($1) } }
        let cursor = min(input.cursor, shown.count)
        while columns(start..<cursor) > available { start += 1 }
        var end = cursor
        while end < shown.count, columns(start..<(end + 1)) <= available { end += 1 }
        let text = String(shown[start..<end])
        let line = Self.fitted([Span(promptShown, promptStyle), Span(text)], to: width)
        return (line, min(width - 1, TerminalText.width(promptShown) + columns(start..<cursor)))
    }

    /// "/call bob 482 915" shown as "/call bob •••••••": the code never shows on screen.
    static func maskedCallCode(_ characters: [Character]) -> [Character] {
        let text = String(characters)
        guard text.lowercased().hasPrefix("/call ") else { return characters }
        var spaceRuns = 0
        var inWord = false
        var result: [Character] = []
        for character in characters {
            if character == " " {
                if inWord { spaceRuns += 1 }
                inWord = false
            } else {
                inWord = true
            }
            result.append(spaceRuns >= 2 && character != " " ? "•" : character)
        }
        return result
    }

    /// `spans` cut or padded to exactly `width` columns.
    static func fitted(_ spans: [Span], to width: Int) -> ScreenLine {
        var result: [Span] = []
        var used = 0
        for span in spans {
            let spanWidth = TerminalText.width(span.text)
            if used + spanWidth <= width {
                result.append(span)
                used += spanWidth
            } else {
                let cut = TerminalText.truncate(span.text, to: width - used)
                result.append(Span(cut, span.style))
                used += TerminalText.width(cut)
                break
            }
        }
        if used < width { result.append(Span(String(repeating: " ", count: width - used))) }
        return ScreenLine(result)
    }
}
