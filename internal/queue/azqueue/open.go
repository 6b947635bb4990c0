package azqueue

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Open returns a Service from a URL, in the style of blobopen's azblob://:
//
//	azqueue://ACCOUNT[?endpoint=URL&encoding=text|base64&prefix=PREFIX]
//	azqueue://[?encoding=...&prefix=...]   the account of $AZURE_STORAGE_CONNECTION_STRING
//
// Credentials never appear in the URL (a URL with user info is refused): the account key comes
// from AZURE_STORAGE_KEY, or everything from the connection string in
// AZURE_STORAGE_CONNECTION_STRING (Azurite's included). endpoint defaults to
// https://ACCOUNT.queue.core.windows.net/. cfg gives the rest of the configuration; the URL's
// parameters override its Encoding and Prefix. getenv reads the environment (nil: os.Getenv).
func Open(rawURL string, cfg Config, getenv func(string) string) (*Service, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	u, q, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var cc ClientConfig
	if u.Host == "" {
		if _, ok := q["endpoint"]; ok {
			return nil, errors.New("azure queue: endpoint= needs an account: azqueue://ACCOUNT?endpoint=URL")
		}
		if cc.ConnectionString = getenv("AZURE_STORAGE_CONNECTION_STRING"); cc.ConnectionString == "" {
			return nil, errors.New("azure queue: azqueue:// without an account needs AZURE_STORAGE_CONNECTION_STRING")
		}
	} else {
		cc.Account, cc.Endpoint = u.Host, q["endpoint"]
		if cc.Key = getenv("AZURE_STORAGE_KEY"); cc.Key == "" {
			return nil, fmt.Errorf("azure queue: azqueue://%s needs the account key in AZURE_STORAGE_KEY (or use azqueue:// with AZURE_STORAGE_CONNECTION_STRING)", u.Host)
		}
	}
	if v, ok := q["encoding"]; ok {
		cfg.Encoding = Encoding(v)
	}
	if v, ok := q["prefix"]; ok {
		cfg.Prefix = v
	}
	c, err := NewClient(cc)
	if err != nil {
		return nil, err
	}
	cfg.Client = c
	return New(cfg)
}

// CheckURL validates rawURL's form without opening anything.
func CheckURL(rawURL string) error {
	_, _, err := parseURL(rawURL)
	return err
}

var urlParams = []string{"endpoint", "encoding", "prefix"}

func parseURL(rawURL string) (*url.URL, map[string]string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("azure queue: %w", err)
	}
	if u.Scheme != "azqueue" {
		return nil, nil, fmt.Errorf("azure queue %q: the scheme must be azqueue://", redact(u))
	}
	if u.User != nil {
		return nil, nil, fmt.Errorf("azure queue %q: credentials in the URL are not accepted; use AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING", redact(u))
	}
	if u.Path != "" && u.Path != "/" {
		return nil, nil, fmt.Errorf("azure queue %q: azqueue URLs name an account, not a path: azqueue://ACCOUNT; orca's queues are the account's", redact(u))
	}
	q := map[string]string{}
	for k, v := range u.Query() {
		if !slices.Contains(urlParams, k) {
			return nil, nil, fmt.Errorf("azure queue %q: unknown parameter %q (allowed: %s)", redact(u), k, strings.Join(urlParams, ", "))
		}
		if len(v) != 1 {
			return nil, nil, fmt.Errorf("azure queue %q: parameter %q is given %d times", redact(u), k, len(v))
		}
		q[k] = v[0]
	}
	if e, ok := q["endpoint"]; ok {
		if p, err := url.Parse(e); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, nil, fmt.Errorf("azure queue %q: endpoint %q is not an http:// or https:// URL", redact(u), e)
		}
	}
	if e, ok := q["encoding"]; ok && Encoding(e) != EncodingText && Encoding(e) != EncodingBase64 {
		return nil, nil, fmt.Errorf("azure queue %q: encoding %q must be text or base64", redact(u), e)
	}
	if err := checkPrefix(q["prefix"]); err != nil {
		return nil, nil, err
	}
	return u, q, nil
}

// redact drops user info from a URL for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
