import PhoenixRedis
/// The Lua scripts behind every multi-key transition of the queue engine, one per transition, each run
/// atomically by Redis so that no crash between two commands can lose or duplicate a job.
///
/// A script acts on one queue (or on the worker registry), declares its keys in KEYS and takes their common
/// base as ARGV[1] (see ``LuaPrelude``).
enum QueueScripts {}
