@main enum ParleySignalStub { static func main() {} }
