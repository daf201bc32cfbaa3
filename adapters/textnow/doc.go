// Package textnow reads the SMS of a pool of TextNow accounts: the
// pool.Source for TextNow, and a simulator skin that serves the same API
// over the simulated market's inbox. Facts are from protocols/textnow.md.
//
// TextNow (textnow.com) is a consumer app, not an activation marketplace:
// every registered account owns one free US or Canadian number, and
// anyone can text it. Nothing is bought per number. The gateway keeps a
// pool of accounts that operators registered and logged in to in a
// browser; this package reads the SMS that arrive on their numbers, and
// the pool (package adapters/pool) leases the numbers out.
//
// Risks, and how the package deals with them:
//
//   - TextNow has no public API. The reader drives the private web API the
//     browser app uses (GET /api/users/{username} and …/messages), with the
//     browser session's connect.sid cookie. The routes were observed by
//     open-source clients, not promised by TextNow, and may change without
//     notice; an answer the reader cannot read is adapters.ErrUnavailable,
//     never a guess.
//   - TextNow's terms of use forbid automated access, and accounts (and
//     their numbers) can be closed or reclaimed at any time, inactive free
//     numbers in particular. Many services refuse VoIP numbers anyway. Use
//     it only where the operators accept that.
//   - The web app sits behind bot protection (Cloudflare / PerimeterX). The
//     reader never logs in and never solves a challenge: a 401 or 403 takes
//     the account out for good (pool.DownNeedsLogin) and it is not called
//     again until an operator logs in in a browser and the gateway is given
//     the new cookie. Hammering a challenged session would get it banned.
//   - Clients were seen keeping at least a second between calls per
//     account, and TextNow answers 429 to more: the reader paces every
//     account's calls (Options.MinGap) and backs off after a 429.
//   - The messages route lists only the latest page (10–30 messages), and
//     a number anyone can text may get more than that while an order
//     waits: the reader pages back (start_message_id, direction=past,
//     page_size) until it reaches a message older than the order, or one
//     it read before, bounded per read (Options.MaxPages); the simulator
//     pages the same way.
//   - Session cookies are secrets: they travel in the Cookie header only,
//     and never appear in an error, a log line or a formatted Account.
package textnow
