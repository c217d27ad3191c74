package sender

import (
	"strings"
	"sync"
	"time"
)

// STSCache keeps MTA-STS policies between attempts, as a real sender
// does (RFC 8461 §3.3): by recipient domain, with the id of the TXT
// record they came with, for their max_age. A later attempt whose TXT id
// is unchanged uses the cached policy without fetching it; one whose
// lookup or fetch fails applies it while it has not expired. The zero
// value is an empty cache, safe for concurrent use. Only profiles whose
// real sender caches (profiles.Verification.MTASTSCache) use it.
type STSCache struct {
	mu       sync.Mutex
	policies map[string]cachedPolicy
}

// cachedPolicy is one domain's policy as fetched.
type cachedPolicy struct {
	id      string
	policy  *STSPolicy
	lines   []string
	fetched time.Time
}

// expires is when the policy stops being usable: max_age after it was
// fetched (RFC 8461 §3.2).
func (c cachedPolicy) expires() time.Time {
	return c.fetched.Add(time.Duration(c.policy.MaxAge) * time.Second)
}

// get returns the domain's policy if one is cached and has not expired
// at now.
func (c *STSCache) get(domain string, now time.Time) (cachedPolicy, bool) {
	if c == nil {
		return cachedPolicy{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.policies[strings.ToLower(domain)]
	if !ok || !now.Before(p.expires()) {
		return cachedPolicy{}, false
	}
	return p, true
}

// put caches the domain's policy, replacing what was there.
func (c *STSCache) put(domain string, p cachedPolicy) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.policies == nil {
		c.policies = map[string]cachedPolicy{}
	}
	c.policies[strings.ToLower(domain)] = p
}
