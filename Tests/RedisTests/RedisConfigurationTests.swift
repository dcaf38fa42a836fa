import PhoenixRedis
import Testing

@Suite struct RedisConfigurationTests {
    @Test func parsesHostPortPasswordAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://:s3cret@cache.internal:6380/2")
        #expect(configuration.host == "cache.internal")
        #expect(configuration.port == 6380)
        #expect(configuration.username == nil)
        #expect(configuration.password == "s3cret")
        #expect(configuration.database == 2)
    }

    @Test func defaultsPortAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://localhost")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        #expect(configuration.password == nil)
    }

    @Test func parsesAclUserAndPercentEncodedPassword() throws {
        let configuration = try RedisConfiguration(url: "redis://worker:p%40ss@10.0.0.5:6379/0")
        #expect(configuration.username == "worker")
        #expect(configuration.password == "p@ss")
    }

    @Test func descriptionMasksThePassword() throws {
        let configuration = try RedisConfiguration(url: "redis://:s3cret@localhost:6379/1")
        #expect(configuration.description == "redis://:****@localhost:6379/1")
        #expect(!configuration.description.contains("s3cret"))
    }

    @Test func redissTurnsOnTLSWithTheSystemTrustStore() throws {
        let configuration = try RedisConfiguration(url: "rediss://:s3cret@redis.example.com:6380/1")
        #expect(configuration.tls == RedisTLS())
        #expect(configuration.description == "rediss://:****@redis.example.com:6380/1")
        #expect(try RedisConfiguration(url: "redis://localhost").tls == nil)
    }

    @Test(arguments: [
        ("http://localhost:6379", "scheme 'http' is not redis://"),
        ("redis://localhost:6379/x", "database 'x' is not a non-negative number"),
        ("redis://:6379", "no host"),
        ("not a url", "not a URL"),
    ])
    func rejectsMalformedURLs(url: String, reason: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}
