import ArgumentParser
import Glibc
import Logging
import Parley
import ParleyCrypto
import ParleySampleKit

/// `parley-chat`: the command line. Reads the options and the config file, loads or
/// creates the identity, connects, and hands the terminal to `ChatApp`.
struct ChatCommandLine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-chat",
        abstract: "A terminal chat over end-to-end encrypted Parley calls.",
        discussion: """
            Contacts come from the config file (contact = NAME DEVICE_ID, repeatable), from \
            --contact NAME=DEVICE_ID, and from /add during a session (not saved). Type /help \
            inside the chat for the commands. Security codes are typed at a masked prompt, \
            never given as flags.
            """
    )

    /// The config-file keys of the chat, beside `ClientOptions.fileKeys`.
    static let fileKeys: Set<String> = ["contact", "download_dir"]

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: ArgumentHelp("A contact, NAME=DEVICE_ID (repeatable).", valueName: "name=id"))
    var contact: [String] = []
    @Option(name: .long, help: ArgumentHelp("Where received files are saved (default: ~/Downloads/parley).", valueName: "dir"))
    var downloadDir: String?
    @Flag(name: .long, help: "Print this device's ID (creating the identity if needed) and exit.")
    var showId = false

    func run() throws {
        let file = try client.config.map { path throws(SampleError) in
            try KeyValueFile.load(path: path, keys: ClientOptions.fileKeys.union(Self.fileKeys),
                                  repeatable: ClientOptions.repeatableKeys.union(["contact"]))
        }
        if showId {
            let path = client.identity ?? file?["identity"] ?? ClientOptions.defaultIdentityPath()
            let (identity, _) = try ClientOptions.loadOrCreateIdentity(path: path)
            print(identity.deviceID.printable)
            return
        }
        try Terminal.check()
        var contacts: [ChatContact] = []
        for entry in file?.values("contact") ?? [] {
            do {
                contacts.append(try ChatContact.parse(entry.value))
            } catch {
                throw SampleError.configuration("\(file!.path):\(entry.line): \(error)")  // entries come from the file
            }
        }
        for text in contact { contacts.append(try ChatContact.parse(text)) }
        let resolved = try client.resolve(file: file)
        let (identity, _) = try ClientOptions.loadOrCreateIdentity(path: resolved.identityPath)
        let downloads = ChatApp.expandHome(downloadDir ?? file?["download_dir"] ?? DownloadFolder.defaultDirectory())

        // The library must never write to the screen the chat draws.
        let logger = Logger(label: "parley-chat") { _ in SwiftLogNoOpLogHandler() }
        let terminal = try Terminal()
        defer { terminal.restore() }
        let parley = try ParleyClient(configuration: resolved.configuration, identity: identity, logger: logger)
        // A client released without stop() crashes on its engine thread, started or not.
        defer { parley.stop() }
        try parley.start()
        let app = try ChatApp(client: parley, terminal: terminal, contacts: contacts, downloadDirectory: downloads)
        app.run()
    }
}
