import Testing
@testable import SwiftletAPI

@Suite struct HTTPRequestParserTests {
    func parse(_ text: String, maximumBody: Int = 64) -> HTTPRequestParser.Outcome {
        HTTPRequestParser.parse(Array(text.utf8)[...], maximumBody: maximumBody)
    }

    @Test func framesARequestWithABody() {
        let text = "PUT /drives/root?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}GET"
        guard case .request(let request, let consumed) = parse(text) else { Issue.record("\(parse(text))"); return }
        #expect(request.method == "PUT")
        #expect(request.path == "/drives/root")
        #expect(request.body == Array("{}".utf8))
        #expect(request.keepAlive)
        #expect(request.header("HOST") == "localhost")
        #expect(consumed == text.utf8.count - 3)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
    ])
    func keepAliveFollowsVersionAndHeader(text: String, keepAlive: Bool) {
        guard case .request(let request, _) = parse(text) else { Issue.record("not framed: \(text)"); return }
        #expect(request.keepAlive == keepAlive)
    }

    @Test(arguments: [
        "", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
    ])
    func waitsForTheRest(text: String) {
        #expect(parse(text) == .incomplete(expectsContinue: false))
    }

    @Test func asksForContinueOnlyBeforeTheBody() {
        #expect(parse("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n") == .incomplete(expectsContinue: true))
        #expect(parse("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nab") == .incomplete(expectsContinue: false))
    }

    @Test(arguments: [
        ("GARBAGE\r\n\r\n", 400, "malformed request line"),
        ("GET /\r\n\r\n", 400, "malformed request line"),
        ("GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        ("GET / HTTP/2.0\r\n\r\n", 400, "HTTP version"),
        ("GET x HTTP/1.1\r\n\r\n", 400, "not a path"),
        ("G(T / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "malformed header"),
        ("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "malformed header"),
        ("GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400, "malformed header"),
        ("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Content-Length"),
        ("PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "bad Content-Length"),
        ("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad Content-Length"),
        ("PUT / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400, "bad Content-Length"),
        ("PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "bad Content-Length"),
        ("PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "bad Content-Length"),
        ("PUT / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", 413, "larger than the limit of 64"),
        ("GET / HTTP/1.1\r\nX: a\u{7F}b\r\n\r\n", 400, "control character"),
    ])
    func refusesWhatIsNotARequest(text: String, status: Int, mentioned: String) {
        guard case .invalid(let response) = parse(text) else { Issue.record("accepted: \(text.debugDescription)"); return }
        #expect(response.status == status)
        #expect(response.closesConnection)
        #expect(response.faultMessage?.contains(mentioned) == true, "\(response.faultMessage ?? "")")
    }

    @Test func refusesAnEndlessHead() {
        let text = "GET / HTTP/1.1\r\n" + String(repeating: "X-Long: yes\r\n", count: 1000)
        guard case .invalid(let response) = parse(text) else { Issue.record("accepted"); return }
        #expect(response.faultMessage?.contains("request head larger") == true)
    }

    @Test func identicalContentLengthsAreOne() {
        guard case .request(let request, _) = parse("PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx") else {
            Issue.record("refused"); return
        }
        #expect(request.body == [UInt8(ascii: "x")])
    }

    @Test func responsesSerialize() {
        let noContent = String(decoding: HTTPResponse.noContent.serialized(keepAlive: true), as: UTF8.self)
        #expect(noContent == "HTTP/1.1 204 No Content\r\nServer: Swiftlet API\r\n\r\n")
        let fault = String(decoding: HTTPResponse.fault(400, "x").serialized(keepAlive: false), as: UTF8.self)
        #expect(fault.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(fault.contains("Content-Length: 21\r\n"))
        #expect(fault.contains("Connection: close\r\n"))
        #expect(fault.hasSuffix("\r\n\r\n{\"fault_message\":\"x\"}"))
    }
}
