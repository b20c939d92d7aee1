import Testing

@Test func unknownSubcommandExitsNonZeroWithoutStackTrace() throws {
    let result = try NBTProcess.run(["no-such-command"])
    #expect(result.status != 0)
    #expect(!result.stderr.contains("Fatal error"))
}
