package daemon

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/export/api/auth"
)

const (
	// natsInternalUser is the daemon's own user on its embedded server:
	// the only one that may manage streams and consumers.
	natsInternalUser = "hindsight"
	// natsInboxPrefix is where the daemon's own replies arrive. Publishers
	// may subscribe to _INBOX.> for their acks, not to this.
	natsInboxPrefix = "_HINDSIGHT_INBOX"
)

// natsAuth decides who may connect to the embedded NATS server, and with
// which permissions, from the running configuration (so a reload that
// changes api.ingest_tokens applies to the next connection, and a
// rotated token file at once). The daemon itself connects in-process as
// natsInternalUser with a password made at start. Everybody else is a
// publisher: they may publish deploys on nats.deploy_subject, read the
// stream's info and get their acks, nothing else; in particular nobody
// but the daemon can delete or change the stream. When ingest tokens are
// set, a publisher must present one as its password (or token); the
// user, when given, must be the token's name.
type natsAuth struct {
	cfg      func() *config.Config
	password string
	logger   *slog.Logger
}

var _ server.Authentication = (*natsAuth)(nil)

func newNATSAuth(cfg func() *config.Config, logger *slog.Logger) *natsAuth {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return &natsAuth{cfg: cfg, password: hex.EncodeToString(b), logger: logger}
}

// connectOptions are the daemon's own credentials on the embedded server.
func (a *natsAuth) connectOptions() []nats.Option {
	return []nats.Option{nats.UserInfo(natsInternalUser, a.password), nats.CustomInboxPrefix(natsInboxPrefix)}
}

// Check implements server.Authentication.
func (a *natsAuth) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if o.Username == natsInternalUser {
		if subtle.ConstantTimeCompare([]byte(o.Password), []byte(a.password)) == 1 {
			c.RegisterUser(&server.User{Username: natsInternalUser})
			return true
		}
		a.refuse(c, "the daemon's own user name with a wrong password")
		return false
	}
	cfg := a.cfg()
	perms := publisherPermissions(cfg)
	if len(cfg.API.IngestTokens) == 0 {
		c.RegisterUser(&server.User{Username: "anonymous", Permissions: perms})
		return true
	}
	secret := o.Password
	if secret == "" {
		secret = o.Token
	}
	id, ok, err := auth.Match(cfg, secret)
	if err != nil {
		a.logger.Error("Cannot read an ingest token file", "err", err)
	}
	switch {
	case !ok || id.Role != auth.RoleIngest:
		a.refuse(c, "missing or wrong ingest token (api.ingest_tokens)")
		return false
	case o.Username != "" && o.Username != id.Name:
		a.refuse(c, "the user is not the name of the ingest token given as password")
		return false
	}
	c.RegisterUser(&server.User{Username: id.Name, Permissions: perms})
	return true
}

func (a *natsAuth) refuse(c server.ClientAuthentication, why string) {
	remote := ""
	if addr := c.RemoteAddress(); addr != nil {
		remote = addr.String()
	}
	// The user is not logged: a client may have put its secret there.
	a.logger.Warn("NATS connection refused", "reason", why, "remote", remote)
}

// publisherPermissions let a client publish deploys and nothing else:
// publish on the deploy subject, ask for the stream's info (to check it
// exists), and receive replies on _INBOX.> (JetStream acks), and read
// the post-mortem drafts that nats export sinks publish.
func publisherPermissions(cfg *config.Config) *server.Permissions {
	stream := cfg.NATS.Stream
	if stream == "" {
		stream = deploy.EmbeddedStream
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			cfg.NATS.DeploySubject,
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO." + stream,
		}},
		Subscribe: &server.SubjectPermission{Allow: append([]string{"_INBOX.>"}, draftSubjects(cfg)...)},
	}
}

// draftSubjects are the subjects nats export sinks publish post-mortem
// drafts on: the same clients may read them (a wiki bot, a chat relay).
func draftSubjects(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Export.Sinks {
		if s.Type == config.SinkNATS && s.Subject != "" {
			out = append(out, s.Subject)
		}
	}
	return out
}
