// Package extension lets a client buy more minutes during an active chat session, with
// data-driven auto-approval guarded by the mitra's reachability, and charges only approved
// extensions.
package extension
