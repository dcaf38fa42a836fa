import AsyncHTTPClient
import Foundation
import LetterGeneration
import PostgresNIO
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import Testing
import TestSupport
import PhoenixWorker
import PhoenixPlatform

/// The letter worker against real Redis and PostgreSQL, with a fake OpenAI/Gemini server on loopback.
@Suite struct LetterGenerationTests {
    static let offer = LetterComposerTests.mobileOffer
    static let aiLetter = "Madame, Monsieur,\n\n" + String(repeating: "Lettre écrite par le fournisseur d'IA pour ce poste. ", count: 6) + "\n\nCordialement,\nAda Martin"

    /// Runs the platform with a letters worker whose providers are the fake server, configured by `environment`.
    func withLetters(_ environment: [String: String], fake: FakeAIServer, _ body: (JobQueue, PostgresClient) async throws -> Void) async throws {
        try await fake.run { base in
            var variables = environment
            for (name, value) in variables { variables[name] = value.replacingOccurrences(of: "{base}", with: base) }
            let settings = try LetterProviderSettings(environment: variables)
            try await withPlatform(types: [.letters], register: { registry, store in
                registry.register(LetterGenerateJob(store: store, writer: LetterWriter(settings: settings, http: .shared)))
            }, body)
        }
    }

    static let openAIOnly = ["OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "{base}/v1", "OPENAI_MODEL": "gpt-test", "MAX_RESPONSE_TIME": "5"]
    static let both = openAIOnly.merging(["GOOGLE_API_KEY": "g-test", "GEMINI_BASE_URL": "{base}/v1beta", "GEMINI_MODEL": "gemini-test"]) { $1 }

    func letterJob(_ user: UUID, maxAttempts: Int? = nil) throws -> JobEnvelope {
        var job = try JobEnvelope(LetterGenerateJob.self, LetterRequest(
            userID: user, jobOfferText: Self.offer, tone: .enthusiastic,
            candidate: Candidate(name: "Ada Martin", experiences: [.init(title: "développeuse mobile", company: "Globex", years: 4)], skills: ["Swift", "Git", "Docker"])
        ))
        if let maxAttempts { job.maxAttempts = maxAttempts }
        return job
    }

    @Test func aProviderLetterIsStoredWithItsProviderTotalsAndEvent() async throws {
        let fake = FakeAIServer()
        fake.answer(openAI: .letter(Self.aiLetter))
        try await withLetters(Self.openAIOnly, fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            let job = try letterJob(user.id)
            try await queue.enqueue(job)
            try await eventually("the letter is stored") { try await queue.stats(queue: "letters").completed == 1 }
            #expect(try await text(client, "SELECT generated_letter FROM public.letter_generations WHERE user_id = \(user.id)") == Self.aiLetter)
            #expect(try await text(client, "SELECT ai_optimization_level FROM public.letter_generations WHERE user_id = \(user.id)") == "openai:gpt-test")
            #expect(try await text(client, "SELECT generation_type FROM public.letter_generations WHERE user_id = \(user.id)") == "standard")
            #expect(try await scalar(client, "SELECT total_letters_generated FROM public.profiles WHERE id = \(user.id)") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE event_id = \(job.id) AND event_type = 'letter.generated' AND payload ->> 'written_by' = 'openai:gpt-test'") == 1)
            #expect(try await scalar(client, "SELECT letters_generated_used FROM public.user_usage_limits WHERE user_id = \(user.id)") == 1)
            #expect(fake.requests == ["/v1/chat/completions"])
            #expect(fake.authorizations == ["Bearer sk-test"])
        }
    }

    @Test func anHTTP500FallsToTheNextProviderAndATimeoutToTheComposer() async throws {
        let fake = FakeAIServer()
        fake.answer(openAI: .status(500), gemini: .letter(Self.aiLetter))
        try await withLetters(Self.both, fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            try await queue.enqueue(try letterJob(user.id))
            try await eventually("the first letter is stored") { try await queue.stats(queue: "letters").completed == 1 }
            #expect(try await text(client, "SELECT ai_optimization_level FROM public.letter_generations WHERE user_id = \(user.id)") == "gemini:gemini-test")
            #expect(fake.requests == ["/v1/chat/completions", "/v1beta/models/gemini-test:streamGenerateContent"])
            #expect(fake.authorizations.last == "g-test")

            // Both providers now fail: OpenAI with a 500, Gemini by answering after MAX_RESPONSE_TIME.
            fake.answer(gemini: .slow(.seconds(8)))
            try await client.query("DELETE FROM public.letter_generations WHERE user_id = \(user.id)")
            try await queue.enqueue(try letterJob(user.id))
            try await eventually("the second letter is stored") { try await queue.stats(queue: "letters").completed == 2 }
            let letter = try #require(try await text(client, "SELECT generated_letter FROM public.letter_generations WHERE user_id = \(user.id)"))
            #expect(try await text(client, "SELECT ai_optimization_level FROM public.letter_generations WHERE user_id = \(user.id)") == LetterWriter.composerLabel)
            #expect(letter.contains("Acme Mobile"))
            #expect(letter.contains("développeur iOS"))
            #expect(letter.hasPrefix("Ada Martin"))
        }
    }

    @Test func withoutFallbackAFailingProviderRetriesThenGoesDeadWithItsError() async throws {
        let fake = FakeAIServer()
        fake.answer(openAI: .status(500))
        try await withLetters(Self.openAIOnly.merging(["ENABLE_CLOUD_FALLBACK": "false"]) { $1 }, fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            let job = try letterJob(user.id, maxAttempts: 2)
            try await queue.enqueue(job)
            try await eventually("the job is dead", timeout: .seconds(20)) { try await queue.stats(queue: "letters").dead == 1 }
            let dead = try #require(try await queue.deadJobs(queue: "letters").first)
            #expect(dead.id == job.idString)
            #expect(dead.attempts == 2)
            #expect(dead.error.contains("openai:gpt-test: HTTP 500"))
            #expect(fake.requests.count == 2)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.letter_generations") == 0)
            // Failed runs use no quota.
            #expect(try await scalar(client, "SELECT coalesce(sum(letters_generated_used), 0)::int FROM public.user_usage_limits WHERE user_id = \(user.id)") == 0)
        }
    }

    @Test func aProviderAnswering429IsCalledAgainAfterItsRetryAfterWithoutSpendingAnAttempt() async throws {
        let fake = FakeAIServer()
        fake.answer(openAI: .throttled(429, retryAfter: "1"))
        try await withLetters(Self.openAIOnly.merging(["ENABLE_CLOUD_FALLBACK": "false"]) { $1 }, fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            // One attempt only: a 429 that spent it would leave the job dead.
            let job = try letterJob(user.id, maxAttempts: 1)
            try await queue.enqueue(job)
            try await eventually("the job waits for the provider") { try await queue.job(id: job.idString)?.state == .delayed }
            // The queue was held too (the hold itself may be over by now: it lasts one second).
            #expect(try await queue.redis.send("HEXISTS", queue.keys.flow("letters"), "heldUntil").int == 1)
            // A 503 naming a wait is handled the same way.
            fake.answer(openAI: .throttled(503, retryAfter: "1"))
            try await eventually("the provider was called again") { fake.requests.count >= 2 }
            fake.answer(openAI: .letter(Self.aiLetter))
            try await eventually("the letter is stored", timeout: .seconds(20)) { try await queue.stats(queue: "letters").completed == 1 }
            let record = try #require(try await queue.job(id: job.idString))
            #expect(record.attempt == 1)
            let stats = try await queue.stats(queue: "letters")
            #expect(stats.failed == 0 && stats.dead == 0)
            #expect(try await text(client, "SELECT ai_optimization_level FROM public.letter_generations WHERE user_id = \(user.id)") == "openai:gpt-test")
            // The tokens of the provider's usage figures were charged to the queue, once.
            #expect(try await queue.redis.send("HGET", queue.keys.job(job.idString, in: "letters"), "tokens").string == "\(FakeAIServer.tokensPerLetter)")
            #expect(stats.rates.tokensLastMinute > 0)
        }
    }

    @Test func aLetterCancelledWhileItsProviderWritesEndsCancelledWithoutUsingQuota() async throws {
        let fake = FakeAIServer()
        fake.answer(openAI: .slow(.seconds(30)))
        try await withLetters(Self.openAIOnly.merging(["MAX_RESPONSE_TIME": "60", "ENABLE_CLOUD_FALLBACK": "false"]) { $1 }, fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            let job = try letterJob(user.id)
            try await queue.enqueue(job)
            try await eventually("the provider is writing") { fake.requests.count == 1 }
            #expect(try await queue.cancel(id: job.idString) == .cancelling)
            // Long before the provider would answer: its call is cancelled with the handler.
            try await eventually("the job is cancelled", timeout: .seconds(20)) { try await queue.job(id: job.idString)?.state == .cancelled }
            #expect(try await text(client, "SELECT status FROM public.phoenix_job_runs WHERE job_id = \(job.id)") == "cancelled")
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.letter_generations") == 0)
            #expect(try await scalar(client, "SELECT coalesce(sum(letters_generated_used), 0)::int FROM public.user_usage_limits WHERE user_id = \(user.id)") == 0)
            let stats = try await queue.stats(queue: "letters")
            #expect((stats.cancelled, stats.failed, stats.completed) == (1, 0, 0))
            #expect(fake.requests.count == 1)
        }
    }

    @Test(arguments: [false, true]) func aStreamedLetterIsPublishedAsProgressWhileItIsWritten(gemini: Bool) async throws {
        let fake = FakeAIServer()
        let words = Self.aiLetter.split(separator: " ", omittingEmptySubsequences: false)
        let pieces = stride(from: 0, to: words.count, by: 10).map { start in
            words[start..<min(words.count, start + 10)].joined(separator: " ") + (start + 10 < words.count ? " " : "")
        }
        let streamed = FakeAIServer.Behaviour.streamed(pieces, pause: .milliseconds(400))
        if gemini { fake.answer(openAI: .status(500), gemini: streamed) } else { fake.answer(openAI: streamed) }
        try await withLetters(gemini ? Self.both : Self.openAIOnly, fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            let job = try letterJob(user.id)
            try await queue.enqueue(job)
            try await eventually("the letter is stored", timeout: .seconds(20)) { try await queue.stats(queue: "letters").completed == 1 }
            #expect(try await text(client, "SELECT generated_letter FROM public.letter_generations WHERE user_id = \(user.id)") == Self.aiLetter)
            // The letter's events: the text so far, growing, as progress; then completed.
            let events = try await queue.events(in: JobEventStream(queue: "letters"), after: .start).filter { $0.jobID == job.idString }
            let written = events.filter { $0.kind == .progress }.compactMap(\.message)
            #expect(written.count >= 2 && written.count <= pieces.count, "\(written.count) progress events for \(pieces.count) pieces")
            #expect(zip(written, written.dropFirst()).allSatisfy { $1.count > $0.count && $1.hasPrefix($0) })
            #expect(written.allSatisfy { Self.aiLetter.hasPrefix($0) })
            #expect(events.last?.kind == .completed)
            // The usage figures of the stream's last event were charged.
            #expect(try await queue.redis.send("HGET", queue.keys.job(job.idString, in: "letters"), "tokens").string == "\(FakeAIServer.tokensPerLetter)")
        }
    }

    @Test func aFreeUsersThirdLetterOfTheMonthIsRefusedNamingTheLimit() async throws {
        let fake = FakeAIServer()
        // No key at all: the composer writes every letter.
        try await withLetters([:], fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            for _ in 0..<2 { try await queue.enqueue(try letterJob(user.id)) }
            try await eventually("two letters stored") { try await queue.stats(queue: "letters").completed == 2 }
            let third = try letterJob(user.id)
            try await queue.enqueue(third)
            try await eventually("the third is refused") { try await queue.stats(queue: "letters").dead == 1 }
            let dead = try #require(try await queue.deadJobs(queue: "letters").first)
            #expect(dead.id == third.idString)
            #expect(dead.error.contains("letters_generated limit is 2"))
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.letter_generations WHERE user_id = \(user.id)") == 2)
            #expect(try await scalar(client, "SELECT total_letters_generated FROM public.profiles WHERE id = \(user.id)") == 2)
            #expect(fake.requests.isEmpty)
        }
    }

    @Test func aLetterRedeliveredAfterItsResultsCommittedIsAcknowledgedWithoutRunningAgain() async throws {
        let fake = FakeAIServer()
        fake.answer(openAI: .letter(Self.aiLetter))
        try await withLetters(Self.openAIOnly, fake: fake) { queue, client in
            let user = try await signUp(client, name: "Ada")
            // The first letter uses one of the two free units; the second uses the last one.
            try await queue.enqueue(try letterJob(user.id))
            try await eventually("the first letter is stored") { try await queue.stats(queue: "letters").completed == 1 }
            let last = try letterJob(user.id)
            try await queue.enqueue(last)
            try await eventually("the second letter is stored") { try await queue.stats(queue: "letters").completed == 2 }
            #expect(fake.requests.count == 2)
            // Its worker died after the commit, before the ack: the job is leased, its lease run out.
            try await leaveLeasedAsIfItsWorkerDied(queue, last)
            try await eventually("the redelivery completed it") { try await queue.stats(queue: "letters").completed == 3 }
            // Before, the redelivery ran the quota check first: dead, "letters_generated limit is 2 and 2 are
            // used", though its letter was stored; and a letter with a provider would have been paid twice.
            let record = try #require(try await queue.job(id: last.idString))
            #expect(record.state == .completed)
            #expect(record.attempt == 2)
            #expect(try await queue.stats(queue: "letters").dead == 0)
            #expect(fake.requests.count == 2)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.letter_generations WHERE user_id = \(user.id)") == 2)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_job_runs WHERE job_id = \(last.id) AND status = 'completed' AND attempt = 1") == 1)
        }
    }

    @Test func badSettingsNameTheVariable() {
        #expect(throws: LetterSettingError.self) { try LetterProviderSettings(environment: ["MAX_RESPONSE_TIME": "soon"]) }
        // Spaces around a flag are ignored, as they were before flags were read in one place.
        #expect((try? LetterProviderSettings(environment: ["ENABLE_CLOUD_FALLBACK": " false "]))?.cloudFallback == false)
        #expect(throws: LetterSettingError.self) { try LetterProviderSettings(environment: ["ENABLE_CLOUD_FALLBACK": "maybe"]) }
        do {
            _ = try LetterProviderSettings(environment: ["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "ftp://x"])
            Issue.record("a non-http base URL should be refused")
        } catch {
            #expect(error.variable == "OPENAI_BASE_URL")
        }
    }
}
