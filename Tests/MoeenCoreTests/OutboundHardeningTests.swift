import Foundation
import MoeenCore
import ProviderStandIns
import Testing

/// DNS rebinding, non-canonical addresses, look-up deadlines and the allow-list, at the policy level.
/// Every resolver here is scripted: no DNS, no socket.
@Suite("Outbound policy hardening")
struct OutboundHardeningTests {
    // MARK: rebinding

    @Test("approve returns the checked address and asks the resolver once per call")
    func approveReturnsCheckedAddress() async throws {
        let resolver = ScriptedResolver([["127.0.0.1"], ["169.254.169.254"]])
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, resolver: resolver)
        let target = try await policy.approve("http://rebind.invalid:8080/hook?token=x")
        #expect(target.host == "rebind.invalid")
        #expect(target.port == 8080)
        #expect(target.scheme == "http")
        #expect(target.address == IPAddress("127.0.0.1"))
        #expect(!target.isAddressLiteral)
        #expect(resolver.calls == 1)

        // The second answer (a rebinding to the metadata endpoint) is refused.
        await #expect(throws: OutboundPolicyError.blockedAddress(
            host: "rebind.invalid", address: "169.254.169.254", reason: "cloud metadata")) {
            _ = try await policy.approve("http://rebind.invalid:8080/hook")
        }
        #expect(resolver.calls == 2)
    }

    @Test("an address literal is never resolved")
    func literalNotResolved() async throws {
        let resolver = ScriptedResolver([["10.0.0.1"]])
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, resolver: resolver)
        let target = try await policy.approve("http://127.0.0.1:9/x")
        #expect(target.address == IPAddress("127.0.0.1"))
        #expect(target.isAddressLiteral)
        #expect(resolver.calls == 0)
    }

    // MARK: non-canonical hosts

    @Test("numeric hosts that are not canonical dotted quads are refused without a look-up", arguments: [
        "012.0.0.1", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "2130706433", "127.1", "10.1", "127.0.0.1.",
        "0300.0250.0.1", "1.2.3.04", "127.0.0.1..", "0x7F.1",
    ])
    func nonCanonical(host: String) async {
        let resolver = ScriptedResolver([["93.184.216.34"]])
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, resolver: resolver)
        await #expect(throws: OutboundPolicyError.nonCanonicalAddress(host: host.lowercased())) {
            _ = try await policy.approve("http://\(host)/x")
        }
        #expect(resolver.calls == 0)
    }

    @Test("numeric-looking checks: canonical quads and ordinary names are not flagged")
    func numericLooking() {
        for host in ["127.0.0.1", "10.0.0.1", "0.0.0.0", "255.255.255.255", "api.example.org", "1.2.3.4.nip.example",
                     "deadbeef", "0xfeed.example", "::1"] {
            #expect(!IPAddress.isNonCanonicalNumericHost(host), "\(host)")
        }
        #expect(IPAddress("012.0.0.1") == nil)
        #expect(IPAddress("1.2.3.4.") == nil)
        #expect(IPAddress("10.0.0.1") == .v4([10, 0, 0, 1]))
    }

    @Test("special-purpose ranges are not public", arguments: [
        ("100.64.0.1", IPAddress.Range.privateNetwork), ("100.127.255.254", .privateNetwork),
        ("198.18.0.1", .reserved), ("198.19.255.255", .reserved), ("240.0.0.1", .reserved),
        ("250.1.2.3", .reserved), ("192.0.2.1", .reserved), ("203.0.113.9", .reserved),
        ("64:ff9b::a00:1", .privateNetwork), ("64:ff9b::7f00:1", .loopback), ("64:ff9b::a9fe:a9fe", .metadata),
        ("64:ff9b::808:808", .public), ("64:ff9b:1::1", .privateNetwork),
        ("2002:a00:1::1", .privateNetwork), ("2002:7f00:1::", .loopback), ("2002:808:808::1", .public),
        ("fec0::1", .privateNetwork), ("198.17.255.255", .public), ("100.128.0.1", .public),
    ])
    func specialRanges(address: String, range: IPAddress.Range) throws {
        #expect(try #require(IPAddress(address)).classification == range)
    }

    @Test("a NAT64 or 6to4 address embedding a private IPv4 is refused by the strict policy")
    func embeddedIPv4Refused() async {
        for url in ["https://[64:ff9b::a00:1]/", "https://[2002:a00:1::1]/", "https://198.18.0.1/", "https://240.0.0.1/"] {
            await #expect(throws: OutboundPolicyError.self) { try await OutboundTargetPolicy.strict.check(url) }
        }
    }

    @Test("a name that merely starts with 127. is judged by what it resolves to")
    func prefixIsNotLoopback() async throws {
        #expect(!IPAddress.isLoopbackHost("127.evil.example"))
        #expect(!IPAddress.isLoopbackHost("127.0.0.1.evil.example"))
        #expect(IPAddress.isLoopbackHost("127.0.0.1"))
        #expect(IPAddress.isLoopbackHost("127.9.8.7"))
        #expect(IPAddress.isLoopbackHost("[::1]"))
        #expect(IPAddress.isLoopbackHost("localhost"))
        #expect(!IPAddress.isLoopbackHost("0177.0.0.1"))

        // http to a name is allowed only when what it resolves to is loopback.
        let resolver = ScriptedResolver([["93.184.216.34"]])
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: true, resolver: resolver)
        await #expect(throws: OutboundPolicyError.httpsRequired(host: "127.0.0.1.evil.example")) {
            _ = try await policy.approve("http://127.0.0.1.evil.example/")
        }
        #expect(resolver.calls == 1)
    }

    // MARK: deadline

    @Test("a look-up that hangs ends in a timeout at the deadline", .timeLimit(.minutes(1)))
    func resolutionDeadline() async {
        let resolver = HangingResolver()
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, resolver: resolver)
        await #expect(throws: OutboundPolicyError.resolutionTimedOut(host: "slow.invalid")) {
            _ = try await policy.approve("http://slow.invalid/", deadline: .now + .milliseconds(200))
        }
        #expect(resolver.calls == 1)
        resolver.release()
    }

    @Test("the system resolver answers localhost with loopback addresses")
    func systemResolver() async {
        let addresses = await SystemHostResolver().addresses(of: "localhost")
        #expect(!addresses.isEmpty)
        #expect(addresses.allSatisfy { $0.isLoopback })
    }

    // MARK: allow-list

    @Test("a host not on the allow-list is refused before any look-up")
    func allowlistBeforeLookup() async {
        let resolver = ScriptedResolver([["127.0.0.1"]])
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, allowlist: .loopback,
                                          resolver: resolver)
        for (url, host) in [("https://api.example.org/v1?key=s3cret", "api.example.org"), ("http://10.0.0.1/", "10.0.0.1"),
                            ("http://localhost.example.org/", "localhost.example.org")] {
            do {
                _ = try await policy.approve(url)
                Issue.record("expected \(host) to be refused")
            } catch {
                #expect(error == .notAllowlisted(host: host))
                #expect(!error.message.contains("s3cret"))
            }
        }
        #expect(resolver.calls == 0)
    }

    @Test("a listed name must resolve inside a listed range; listed literals pass without a look-up")
    func allowlistRanges() async throws {
        let resolver = ScriptedResolver([["127.0.0.1"], ["10.1.2.3"]])
        let policy = OutboundTargetPolicy(allowPrivateTargets: true, requireHTTPS: false, allowlist: .loopback,
                                          resolver: resolver)
        #expect(try await policy.approve("http://localhost:8080/").address == IPAddress("127.0.0.1"))
        await #expect(throws: OutboundPolicyError.addressNotAllowlisted(host: "localhost", address: "10.1.2.3")) {
            _ = try await policy.approve("http://localhost:8080/")
        }
        #expect(try await policy.approve("http://127.0.0.2:8080/").isAddressLiteral)
        #expect(try await policy.approve("http://[::1]:8080/").isAddressLiteral)
        #expect(resolver.calls == 2)

        // Only names listed: a listed name is trusted whatever it resolves to.
        let namesOnly = try #require(OutboundAllowlist("vault.internal.example"))
        #expect(namesOnly.permitsHost("vault.internal.example"))
        #expect(namesOnly.permitsResolvedAddress(try #require(IPAddress("10.9.9.9"))))
        #expect(!namesOnly.permitsHost("10.9.9.9"))
    }

    @Test("allow-list parsing: numeric-looking non-canonical entries are neither names nor ranges")
    func allowlistParsing() throws {
        #expect(OutboundAllowlist("0x7f.0.0.1") == nil)
        #expect(OutboundAllowlist("127.1") == nil)
        #expect(OutboundAllowlist("010.0.0.0/8") == nil)
        let list = try #require(OutboundAllowlist(" Vault.Example.org , 10.0.0.0/8,::1 "))
        #expect(list.hostNames == ["vault.example.org"])
        #expect(list.permitsHost("VAULT.example.org"))
        #expect(list.permitsHost("10.20.30.40"))
        #expect(!list.permitsHost("012.0.0.1"))
        #expect(OutboundAllowlist.loopback.description == "localhost,127.0.0.0/8,::1/128")
        for (text, shown) in [("0:0:0:0:0:0:0:1", "::1"), ("::", "::"), ("fe80:0:0:0:1:0:0:0", "fe80::1:0:0:0"),
                              ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"), ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
                              ("64:ff9b::10.0.0.1", "64:ff9b::a00:1")] {
            #expect(IPAddress(text)?.description == shown, "\(text)")
            #expect(IPAddress(shown) == IPAddress(text))
        }
    }

    // MARK: messages

    @Test("policy messages name the host only", arguments: [
        OutboundPolicyError.nonCanonicalAddress(host: "012.0.0.1"), .notAllowlisted(host: "h.example"),
        .addressNotAllowlisted(host: "h.example", address: "10.0.0.1"), .resolutionTimedOut(host: "h.example"),
    ])
    func messages(error: OutboundPolicyError) {
        #expect(!error.message.isEmpty)
        #expect(!error.message.contains("/"))
    }
}
