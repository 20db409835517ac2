# herald.rb -- Herald's Ruby producer client: notify users, ask presence, mint tokens.
require "msgpack"
require "jwt"
require "ffi-rzmq"
require "securerandom"
require "logger"

require_relative "herald/version"
require_relative "herald/errors"
require_relative "herald/curve"
require_relative "herald/config"
require_relative "herald/envelope"
require_relative "herald/stats"
require_relative "herald/outbox"
require_relative "herald/pool"
require_relative "herald/testing"

# Usage (see clients/ruby/README.md):
#
#   Herald.notify("carol", "bid", { amount: 120, vendor: "v1" }, id: "bid-7")
#   Herald.notify("carol", "paid", { order: 7 }, confirm: true) # => { offset:, epoch:, ... }
#   Herald.online?("carol")            # => true / false
#   Herald.presence(%w[v1 v2])         # => { "v1" => true, "v2" => false }
#   Herald.token("carol", ttl: 3600)   # => "eyJ..." for herald.js
#   Herald.publish("order:42", "bid", { amount: 95 })   # a channel
#   Herald.broadcast("maintenance", { at: "22:00" })   # everyone
#   Herald.flush(timeout: 5)           # => true once every queued event went out
#   Herald.stats                       # => { queued:, sent:, dropped:, confirmed:, pending: }
#
# Every public method is safe to call from any thread and after fork.
module Herald
  # notify(confirm: true): one attempt waits at least this long for its
  # answer (a pair's active answers after its passive's ack, which may
  # take up to half its --pair-timeout-ms); busy and passive answers are
  # asked again after RETRY_S.
  CONFIRM_ATTEMPT_MS = 1500
  RETRY_S = 0.1

  @config_lock = Mutex.new
  @config = nil
  @pool = nil
  @stats = Stats.new
  @logger = Logger.new($stderr, progname: "herald", level: Logger::WARN)

  class << self
    # Where the gem logs what it cannot raise (the sender thread's
    # failures). The Railtie sets Rails.logger; nil silences it.
    attr_accessor :logger

    # The current Config (created from HERALD_* variables on first use).
    def config
      @config_lock.synchronize { @config ||= s_new_config.validate! }
    end

    # Settings every new Config starts from, over the HERALD_* variables
    # (the Railtie puts config/herald.yml, credentials and config.herald.*
    # here): a Hash of Config setting => value. Unknown keys raise
    # Herald::ConfigError.
    def defaults
      @defaults || {}
    end

    def defaults=(settings)
      hash = (settings || {}).to_h.transform_keys(&:to_sym)
      unknown = hash.keys - Config.settings
      raise ConfigError, "herald: unknown setting(s) #{unknown.join(', ')}" unless unknown.empty?

      @defaults = hash.freeze
    end

    # True once Herald.configure ran in this process.
    def configured_by_app?
      @configured == true
    end

    # Herald.configure { |c| c.ingest = "tcp://10.0.0.5:7401"; c.on_full = :drop }
    # Sockets already open keep their old settings until reset! (configure
    # calls it, so the next call of each thread reconnects).
    def configure
      cfg = s_new_config
      yield cfg if block_given?
      cfg.validate!
      old = @config_lock.synchronize do
        prev = @pool
        @config = cfg
        @pool = nil
        prev
      end
      old&.shutdown
      @stats.reset!
      @configured = true
      cfg
    end

    # Closes this process's sockets (flushing for up to config.linger_ms)
    # and forgets the configuration, so the next call starts afresh.
    def reset!
      old = @config_lock.synchronize do
        prev = @pool
        @pool = nil
        @config = nil
        prev
      end
      old&.shutdown
      @stats.reset!
      nil
    end

    # Waits until every event this process queued was handed to ZeroMQ
    # and written to a broker connection, for at most timeout seconds.
    # True when all went out, false when some are still pending (no broker
    # connected): Herald.stats[:pending] says how many. Call it before a
    # process ends without at_exit handlers (exit!, a Resque child), or
    # at the end of a job that must not lose its events.
    def flush(timeout: 5)
      raise ArgumentError, "herald: flush timeout must be a positive number of seconds" unless timeout.is_a?(Numeric) && timeout.positive?
      return true if Testing.on?

      p = @config_lock.synchronize { @pool }
      return true unless p&.current?

      p.outbox.flush(timeout)
    end

    # Forgets sockets a parent process opened, without touching them (they
    # belong to the parent's ZeroMQ threads), and zeroes the stats. Every
    # call notices a fork by itself; this only does it eagerly. The
    # Railtie calls it after every fork (Puma, Unicorn, Passenger, Spring);
    # elsewhere call it from the server's after-fork hook if you like.
    # A no-op in the process that opened the sockets.
    def after_fork!
      @config_lock.synchronize { @pool = nil if @pool&.foreign? }
      @stats.snapshot # zeroes counters carried over from the parent
      nil
    end

    # Sends one event to one user id or an Array of them. Never blocks:
    # the event is queued on this thread's socket and ZeroMQ delivers it in
    # the background. Returns true when queued. When config.send_hwm events
    # are already queued (the broker is unreachable), raises
    # Herald::QueueFull, or with config.on_full = :drop returns false and
    # counts Herald.stats[:dropped]. Raises ArgumentError for an envelope the
    # broker would refuse (bad event name, user id, id, ttl, size,
    # idempotency_key). An idempotency_key (1-128 bytes) makes the broker
    # route the event once however often it is sent within its window.
    #
    # confirm: true sends it through the control op publish instead and
    # blocks until the broker answers that it is committed (stored and, for
    # a pair, copied to the passive): returns { offset:, epoch:, duplicate:,
    # idempotency_key: } (duplicate: the key was accepted before; offset is
    # then the first event's). Without an answer the event is sent again
    # with the same idempotency_key (one is made when none is given), to
    # the other broker of a pair, until config.confirm_timeout_ms passes:
    # then Herald::Unconfirmed (its idempotency_key says what to resend).
    # Herald::ControlError when the broker refuses it ("invalid (bad_to)",
    # "forbidden").
    def notify(to, event, data = nil, id: nil, ttl: nil, idempotency_key: nil, confirm: false)
      raise ArgumentError, "herald: notify needs a user id or an Array of them" if to.nil?
      raise ArgumentError, "herald: notify needs at least one user id" if to.is_a?(Array) && to.empty?

      s_send(event, data, { to: to }, id: id, ttl: ttl, idempotency_key: idempotency_key, confirm: confirm)
    end

    # Sends one event to every connection subscribed to channel (1-128
    # characters of [A-Za-z0-9_.:@/=-]); browsers subscribe with
    # herald.js's subscribe(channel, ...) when their token's channels claim
    # (Herald.token(user, channels: [...])) or a subscription token
    # (Herald.subscription_token) allows it. Options and return value as
    # for notify (confirm: true included). No undelivered notices: a
    # channel has no recipients the broker knows of.
    def publish(channel, event, data = nil, id: nil, ttl: nil, idempotency_key: nil, confirm: false)
      s_send(event, data, { channel: channel }, id: id, ttl: ttl, idempotency_key: idempotency_key,
                                                confirm: confirm)
    end

    # Sends one event to every connection on every gateway. Options and
    # return value as for notify.
    def broadcast(event, data = nil, id: nil, ttl: nil, idempotency_key: nil, confirm: false)
      s_send(event, data, { broadcast: true }, id: id, ttl: ttl, idempotency_key: idempotency_key,
                                               confirm: confirm)
    end

    # True when the user has at least one live connection on any gateway.
    def online?(user)
      presence([user]).fetch(Envelope.check_user(user), false)
    end

    # { "user" => true/false } for each user id, asked of the broker's
    # control socket. Raises Herald::Timeout when the broker does not answer
    # within config.control_timeout_ms, Herald::ControlError when it refuses.
    def presence(users)
      list = Array(users).map { |u| Envelope.check_user(u) }.uniq
      return {} if list.empty?
      return Testing.presence(list) if Testing.on?

      reply = control_request({ "op" => "presence", "users" => list })
      online = reply["online"]
      raise ControlError, "herald: presence reply without 'online': #{reply.inspect}" unless online.is_a?(Hash)

      list.to_h { |u| [u, online[u] == true] }
    end

    # Who is subscribed to channel, counted from the gateways' presence
    # topics: { users: [...] (distinct, at most 10,000), connections: N,
    # exact: false while subscriptions refused by the broker's bound may be
    # held, truncated: true when there were more users than listed }.
    def channel_presence(channel)
      name = Envelope.check_channel(channel)
      return { users: [], connections: 0, exact: true, truncated: false } if Testing.on?

      reply = control_request({ "op" => "presence", "channel" => name })
      unless reply["users"].is_a?(Array) && reply["connections"].is_a?(Integer)
        raise ControlError, "herald: channel presence reply without users and connections: #{reply.inspect}"
      end

      { users: reply["users"], connections: reply["connections"], exact: reply["exact"] != false,
        truncated: reply["truncated"] == true }
    end

    # Closes every connection of user on every gateway with 4003 (herald.js
    # does not reconnect after it). Returns { online:, sent: }: whether some
    # gateway held the user when the broker published the request, and
    # whether it was published. Not a ban: a client with a still-valid
    # token may connect again; stop issuing tokens to the user as well.
    def disconnect(user)
      name = Envelope.check_user(user)
      return Testing.disconnect(name) if Testing.on?

      reply = control_request({ "op" => "disconnect", "user" => name })
      raise ControlError, "herald: disconnect reply without 'sent': #{reply.inspect}" unless reply.key?("sent")

      { online: reply["online"] == true, sent: reply["sent"] == true }
    end

    # Sends one control request (a Hash) and returns the broker's reply.
    # With a pair (config.control "EP1,EP2") a request the current broker
    # does not answer within config.control_timeout_ms, or answers as a
    # passive, goes to the other one, for up to config.failover_timeout_ms.
    # Raises Herald::Timeout when no broker answered, Herald::ControlError
    # for an {"error": ...} answer.
    def control_request(request)
      raise Error, "herald: control_request #{request['op']} is not available in test mode" if Testing.on?

      two = config.control_endpoints.size == 2
      reply = s_control(MessagePack.pack(request), config.control_timeout_ms,
                        two ? config.failover_timeout_ms : 0)
      raise Timeout, "herald: #{reply[:timeout]}" if reply.key?(:timeout)
      raise ControlError, "herald: broker refused #{request['op']}: #{reply['error']}" if reply.key?("error")

      reply
    end

    # An HS256 JWT for herald.js: sub = user, iat = now, exp = now + ttl,
    # aud/iss when given (a string, or for aud an array of strings: the
    # gateway's --token-aud/--token-iss check them, and a gateway without
    # --token-aud refuses a token that carries an aud). channels: the
    # channels the connection may subscribe to (the "channels" claim): exact
    # names, or prefixes ending in "*" ("order:*"; "*" alone: all). Other
    # extra claims may be given (the gateway ignores them).
    def token(user, ttl: nil, aud: nil, iss: nil, channels: nil, claims: {})
      secret = s_secret
      unless channels.nil? || channels.is_a?(Array)
        raise ArgumentError, "herald: channels must be an Array of channel names or prefixes ending in '*'"
      end
      unless aud.nil? || aud.is_a?(String) || (aud.is_a?(Array) && aud.all? { |a| a.is_a?(String) })
        raise ArgumentError, "herald: aud must be a string or an array of strings"
      end
      raise ArgumentError, "herald: iss must be a string" unless iss.nil? || iss.is_a?(String)

      now = Time.now.to_i
      payload = claims.transform_keys(&:to_s).merge(
        "sub" => Envelope.check_user(user), "iat" => now, "exp" => now + (ttl || config.token_ttl)
      )
      payload["aud"] = aud unless aud.nil?
      payload["iss"] = iss unless iss.nil?
      payload["channels"] = channels.map { |c| Envelope.check_channel_pattern(c) }.uniq unless channels.nil?
      JWT.encode(payload, secret, "HS256")
    end

    # A subscription token: lets user's connection subscribe to this one
    # channel, sent as "token" in the subscribe frame (herald.js:
    # subscribe(channel, handler, { token })). HS256 with the gateways'
    # secret, claims sub, channel, iat and exp = now + ttl (default
    # config.token_ttl); aud/iss as for token (the gateway checks them as
    # it checks a connection's token). Mint it when the user is allowed in,
    # e.g. on the order page of an order they take part in.
    def subscription_token(user, channel, ttl: nil, aud: nil, iss: nil)
      secret = s_secret
      raise ArgumentError, "herald: ttl must be a positive Integer (seconds)" unless ttl.nil? || (ttl.is_a?(Integer) && ttl.positive?)
      raise ArgumentError, "herald: iss must be a string" unless iss.nil? || iss.is_a?(String)
      unless aud.nil? || aud.is_a?(String) || (aud.is_a?(Array) && aud.all? { |a| a.is_a?(String) })
        raise ArgumentError, "herald: aud must be a string or an array of strings"
      end

      now = Time.now.to_i
      payload = { "sub" => Envelope.check_user(user), "channel" => Envelope.check_channel(channel),
                  "iat" => now, "exp" => now + (ttl || config.token_ttl) }
      payload["aud"] = aud unless aud.nil?
      payload["iss"] = iss unless iss.nil?
      JWT.encode(payload, secret, "HS256")
    end

    # Counters of this process since the last configure/reset! (a forked
    # child starts at 0): { queued:, sent:, dropped:, confirmed:, pending: }.
    # queued: events notify/publish/broadcast accepted; sent: those handed
    # to ZeroMQ on a live broker connection; pending: queued, not sent yet;
    # dropped: refused by a full queue with on_full :drop, or lost at
    # exit/reset! after linger_ms; confirmed: confirm: true sends the
    # broker committed (not counted in queued or sent).
    def stats
      p = @config_lock.synchronize { @pool }
      @stats.snapshot.merge(pending: p ? p.pending : 0)
    end

    # Sockets currently open in this process (threads x kinds).
    def socket_count
      pool.socket_count
    end

    private

    def s_new_config
      cfg = Config.new
      defaults.each { |k, v| cfg.public_send("#{k}=", v) }
      cfg
    end

    def s_secret
      secret = config.secret
      secret = Testing::SECRET if (secret.nil? || secret.empty?) && Testing.on?
      raise ConfigError, "herald: no secret (set HERALD_SECRET or config.secret)" if secret.nil? || secret.empty?

      secret
    end

    # notify, publish and broadcast: addr is { to: } or { channel: } or
    # { broadcast: true }.
    def s_send(event, data, addr, id:, ttl:, idempotency_key:, confirm:)
      cfg = config
      opts = { id: id, ttl: ttl, channel: addr[:channel], broadcast: addr[:broadcast] == true,
               max_bytes: cfg.max_event_bytes }
      if confirm
        key = idempotency_key || s_new_key
        bytes = Envelope.pack(addr[:to], event, data, **opts, idempotency_key: key, op: "publish")
        return Testing.record(bytes, @stats, confirm: true) if Testing.on?

        reply = s_publish_confirmed(bytes, key)
        @stats.count(:confirmed)
        return reply
      end

      bytes = Envelope.pack(addr[:to], event, data, **opts, idempotency_key: idempotency_key)
      return Testing.record(bytes, @stats) if Testing.on?

      s_push(bytes)
    end

    # Queues envelope bytes in this process's outbox (see notify).
    def s_push(bytes)
      if pool.outbox.push(bytes)
        @stats.count(:queued)
        return true
      end

      cfg = config
      if cfg.on_full == :drop
        @stats.count(:dropped)
        return false
      end
      raise QueueFull, "herald: #{pool.pending} events already wait for a broker at #{cfg.ingest} " \
                       "(send_hwm #{cfg.send_hwm}, max_queue_bytes #{cfg.max_queue_bytes}); is the broker running?"
    end

    # A key no other event has: 128 random bits.
    def s_new_key
      "rb-#{SecureRandom.hex(16)}"
    end

    # The control request publish (bytes, with key), retried until
    # confirm_timeout_ms; see notify.
    def s_publish_confirmed(bytes, key)
      cfg = config
      reply = s_control(bytes, [cfg.control_timeout_ms, CONFIRM_ATTEMPT_MS].max, cfg.confirm_timeout_ms,
                        retry_busy: true)
      if reply.key?(:timeout)
        raise Unconfirmed.new("herald: event not confirmed within #{cfg.confirm_timeout_ms} ms " \
                              "(#{reply[:timeout]}); it may or may not have been accepted: send it again " \
                              "with idempotency_key #{key.inspect}", key)
      end
      if reply.key?("error")
        reason = reply["reason"] ? " (#{reply['reason']})" : ""
        raise ControlError, "herald: broker refused publish: #{reply['error']}#{reason}"
      end
      unless reply["offset"].is_a?(Integer) && reply["epoch"].is_a?(String)
        raise ControlError, "herald: publish reply without offset and epoch: #{reply.inspect}"
      end

      { offset: reply["offset"], epoch: reply["epoch"], duplicate: reply["duplicate"] == true,
        idempotency_key: key }
    end

    # Sends bytes (a control request) and returns the reply Hash, trying
    # again for budget_ms after silence (each attempt waits attempt_ms;
    # the request moves to the other broker of a pair), a passive's answer
    # and, with retry_busy, busy. When the budget is spent returns the last
    # passive answer, or { timeout: "what happened" } when none came.
    def s_control(bytes, attempt_ms, budget_ms, retry_busy: false)
      p = pool
      deadline = s_now + (budget_ms / 1000.0)
      loop do
        at = p.control_at
        reply = s_attempt(p, at, bytes, attempt_ms)
        if reply.nil?
          p.control_silent(at)
          return { timeout: "broker at #{p.control_endpoint(at)} did not answer within #{attempt_ms} ms" } if s_now >= deadline
        elsif reply["error"] == "passive"
          return reply if s_now >= deadline

          sleep RETRY_S unless p.control_passive(at)
        elsif retry_busy && reply["error"] == "busy" && s_now < deadline
          sleep RETRY_S
        else
          return reply
        end
      end
    end

    # One request to control endpoint `at`: its reply Hash, or nil when it
    # did not answer in time (the REQ socket, stuck, is dropped).
    def s_attempt(p, at, bytes, attempt_ms)
      sock = p.req_socket(at, attempt_ms)
      buf = +""
      unless ZMQ::Util.resultcode_ok?(sock.send_string(bytes)) && ZMQ::Util.resultcode_ok?(sock.recv_string(buf))
        p.discard_req(at)
        return nil
      end
      reply = MessagePack.unpack(buf)
      raise ControlError, "herald: control reply is not a map" unless reply.is_a?(Hash)

      reply
    rescue MessagePack::MalformedFormatError => e
      raise ControlError, "herald: control reply is not msgpack: #{e.message}"
    end

    def s_now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def pool
      @config_lock.synchronize { @pool ||= Pool.new(@config ||= s_new_config.validate!, @stats) }
    end
  end

  # Flush and close at exit, bounded by config.linger_ms. In a forked
  # child this only closes what the child itself opened.
  at_exit { Herald.reset! }
end

require_relative "herald/railtie" if defined?(Rails::Railtie)
