/// Runs `transform` over `items`, at most `limit` at a time; the results come back in the items' order
/// (events must reach analysisd in the order of their alerts).
func orderedConcurrentMap<Item: Sendable, Output: Sendable>(
    _ items: [Item],
    limit: Int,
    _ transform: @escaping @Sendable (Item) async -> Output
) async -> [Output] {
    await withTaskGroup(of: (Int, Output).self) { group in
        var results = [Output?](repeating: nil, count: items.count)
        var next = 0
        func add() {
            let index = next
            let item = items[index]
            next += 1
            group.addTask { (index, await transform(item)) }
        }
        while next < min(max(1, limit), items.count) { add() }
        for await (index, result) in group {
            results[index] = result
            if next < items.count { add() }
        }
        return results.map { $0! }
    }
}
