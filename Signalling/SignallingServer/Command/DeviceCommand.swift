import ArgumentParser
import ParleyCrypto
import SignallingServer

/// `parley-signal device add|remove|list`: edits the state directory's allowlist, then
/// tells a running server to reload it (a removed device is disconnected at once).
struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Add, remove or list the devices of the allowlist.",
        discussion: "The allowlist admits devices when enrollment = allowlist. A running server is sent SIGHUP.",
        subcommands: [Add.self, Remove.self, List.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a device (or rename a listed one).")

        @OptionGroup var state: StateOptions
        @Argument(help: ArgumentHelp("The device ID as the device prints it (36 characters).", valueName: "device-id"))
        var deviceID: String
        @Argument(help: ArgumentHelp("Display name, at most 64 bytes.", valueName: "name"))
        var name: [String] = []

        func validate() throws { _ = try parseDeviceID(deviceID) }

        func run() throws {
            let device = try parseDeviceID(deviceID)
            let (store, options) = try state.openStateDirectory()
            let added = try store.addDevice(device, name: name.joined(separator: " "))
            print("\(added ? "added" : "renamed") \(device.printable)")
            Console.note(RunningServer.reload(store))
            if options.enrollment == .open {
                Console.note("note: enrollment is open, so every device is admitted; the allowlist applies with enrollment = allowlist")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a device; a running server disconnects it at once.")

        @OptionGroup var state: StateOptions
        @Argument(help: ArgumentHelp("The device ID to remove.", valueName: "device-id"))
        var deviceID: String

        func validate() throws { _ = try parseDeviceID(deviceID) }

        func run() throws {
            let device = try parseDeviceID(deviceID)
            let (store, _) = try state.openStateDirectory()
            guard try store.removeDevice(device) else {
                throw CommandFailure(.failure, "device \(device.printable) is not in the allowlist \(store.allowlistPath)")
            }
            print("removed \(device.printable)")
            Console.note(RunningServer.reload(store))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the allowlist: one '<device ID> <name>' per line.")

        @OptionGroup var state: StateOptions

        func run() throws {
            let (store, _) = try state.openStateDirectory()
            let devices = try store.listDevices()
            for (device, name) in devices {
                print(name.isEmpty ? device.printable : "\(device.printable) \(name)")
            }
            if devices.isEmpty { Console.note("no devices in \(store.allowlistPath)") }
        }
    }
}

/// A device ID argument, or a usage error that quotes it.
func parseDeviceID(_ text: String) throws -> DeviceID {
    do {
        return try DeviceID(printable: text)
    } catch let CryptoError.invalidDeviceID(reason) {
        throw ValidationError("'\(text)' is not a device ID: \(reason)")
    }
}
