import PhoenixRedis
/// The Lua scripts behind every multi-key transition of the queue engine, one per transition, each run
/// atomically by Redis so that no crash between two commands can lose or duplicate a job.
///
/// Every script takes the key prefix as ARGV[1] and derives its keys from it (see ``LuaPrelude``).
enum QueueScripts {}
