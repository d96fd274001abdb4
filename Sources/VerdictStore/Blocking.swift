import Dispatch

/// Runs blocking work (file locks, SQLite opens, socket waits) on a thread outside Swift's cooperative pool,
/// whose few threads must never wait on the file system or another process.
public func runBlocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
