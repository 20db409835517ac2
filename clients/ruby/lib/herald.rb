# herald.rb -- Herald's Ruby producer client: notify users, ask presence, mint tokens.
require "msgpack"
require "jwt"
require "ffi-rzmq"

require_relative "herald/version"
require_relative "herald/errors"
require_relative "herald/curve"
require_relative "herald/config"
require_relative "herald/envelope"
require_relative "herald/pool"

# Usage (see clients/ruby/README.md):
#
#   Herald.notify("carol", "bid", { amount: 120, vendor: "v1" }, id: "bid-7")
#   Herald.online?("carol")            # => true / false
#   Herald.presence(%w[v1 v2])         # => { "v1" => true, "v2" => false }
#   Herald.token("carol", ttl: 3600)   # => "eyJ..." for herald.js
#
# Every public method is safe to call from any thread and after fork.
module Herald
  @config_lock = Mutex.new
  @config = nil
  @pool = nil
  @stats_lock = Mutex.new
  @stats = { sent: 0, dropped: 0 }
  @stats_pid = Process.pid

  class << self
    # The current Config (created from HERALD_* variables on first use).
    def config
      @config_lock.synchronize { @config ||= Config.new.validate! }
    end

    # Herald.configure { |c| c.ingest = "tcp://10.0.0.5:7401"; c.on_full = :drop }
    # Sockets already open keep their old settings until reset! (configure
    # calls it, so the next call of each thread reconnects).
    def configure
      cfg = Config.new
      yield cfg if block_given?
      cfg.validate!
      old = @config_lock.synchronize do
        prev = @pool
        @config = cfg
        @pool = nil
        prev
      end
      old&.shutdown
      s_reset_stats
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
      s_reset_stats
      nil
    end

    # Sends one event to one user id or an Array of them. Never blocks:
    # the event is queued on this thread's socket and ZeroMQ delivers it in
    # the background. Returns true when queued. When config.send_hwm events
    # are already queued (the broker is unreachable), raises
    # Herald::QueueFull, or with config.on_full = :drop returns false and
    # counts Herald.stats[:dropped]. Raises ArgumentError for an envelope the
    # broker would refuse (bad event name, user id, id, ttl, size).
    def notify(to, event, data = nil, id: nil, ttl: nil)
      cfg = config
      bytes = Envelope.pack(to, event, data, id: id, ttl: ttl, max_bytes: cfg.max_event_bytes)
      sock = pool.push_socket
      rc = sock.send_string(bytes, ZMQ::DONTWAIT)
      if ZMQ::Util.resultcode_ok?(rc)
        s_count(:sent)
        return true
      end
      errno = ZMQ::Util.errno
      unless errno == ZMQ::EAGAIN
        raise SocketError, "herald: send failed: #{ZMQ::Util.error_string}"
      end

      if cfg.on_full == :drop
        s_count(:dropped)
        return false
      end
      raise QueueFull, "herald: #{cfg.send_hwm} events already queued for #{cfg.ingest}; is the broker running?"
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

      reply = control_request({ "op" => "presence", "users" => list })
      online = reply["online"]
      raise ControlError, "herald: presence reply without 'online': #{reply.inspect}" unless online.is_a?(Hash)

      list.to_h { |u| [u, online[u] == true] }
    end

    # Closes every connection of user on every gateway with 4003 (herald.js
    # does not reconnect after it). Returns { online:, sent: }: whether some
    # gateway held the user when the broker published the request, and
    # whether it was published. Not a ban: a client with a still-valid
    # token may connect again; stop issuing tokens to the user as well.
    def disconnect(user)
      name = Envelope.check_user(user)
      reply = control_request({ "op" => "disconnect", "user" => name })
      raise ControlError, "herald: disconnect reply without 'sent': #{reply.inspect}" unless reply.key?("sent")

      { online: reply["online"] == true, sent: reply["sent"] == true }
    end

    # Sends one control request (a Hash) and returns the broker's reply.
    def control_request(request)
      p = pool
      sock = p.req_socket
      rc = sock.send_string(MessagePack.pack(request))
      unless ZMQ::Util.resultcode_ok?(rc)
        p.discard_req
        raise Timeout, "herald: control socket #{config.control} did not accept the request"
      end
      buf = +""
      rc = sock.recv_string(buf)
      unless ZMQ::Util.resultcode_ok?(rc)
        p.discard_req
        raise Timeout, "herald: broker at #{config.control} did not answer within #{config.control_timeout_ms} ms"
      end
      reply = MessagePack.unpack(buf)
      raise ControlError, "herald: control reply is not a map" unless reply.is_a?(Hash)
      raise ControlError, "herald: broker refused #{request['op']}: #{reply['error']}" if reply.key?("error")

      reply
    rescue MessagePack::MalformedFormatError => e
      raise ControlError, "herald: control reply is not msgpack: #{e.message}"
    end

    # An HS256 JWT for herald.js: sub = user, iat = now, exp = now + ttl,
    # aud/iss when given (a string, or for aud an array of strings: the
    # gateway's --token-aud/--token-iss check them, and a gateway without
    # --token-aud refuses a token that carries an aud). Other extra claims
    # may be given (the gateway ignores them).
    def token(user, ttl: nil, aud: nil, iss: nil, claims: {})
      secret = config.secret
      raise ConfigError, "herald: no secret (set HERALD_SECRET or config.secret)" if secret.nil? || secret.empty?
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
      JWT.encode(payload, secret, "HS256")
    end

    # Counters of this process since the last configure/reset!:
    # { sent:, dropped: } (a forked child starts at 0).
    def stats
      @stats_lock.synchronize do
        s_reset_stats_after_fork
        @stats.dup
      end
    end

    # Sockets currently open in this process (threads x kinds).
    def socket_count
      pool.socket_count
    end

    private

    def pool
      @config_lock.synchronize { @pool ||= Pool.new(@config ||= Config.new.validate!) }
    end

    def s_count(key)
      @stats_lock.synchronize do
        s_reset_stats_after_fork
        @stats[key] += 1
      end
    end

    def s_reset_stats_after_fork
      return if @stats_pid == Process.pid

      @stats = { sent: 0, dropped: 0 }
      @stats_pid = Process.pid
    end

    def s_reset_stats
      @stats_lock.synchronize do
        @stats = { sent: 0, dropped: 0 }
        @stats_pid = Process.pid
      end
    end
  end

  # Flush and close at exit, bounded by config.linger_ms. In a forked
  # child this only closes what the child itself opened.
  at_exit { Herald.reset! }
end
