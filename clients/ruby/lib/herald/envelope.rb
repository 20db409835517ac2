# herald/envelope.rb -- builds and checks the producer envelope (proto/PROTOCOL.md).
require "msgpack"
require "time"

module Herald
  # The broker drops a bad envelope silently (it only counts it), so the
  # client checks the same rules first and raises ArgumentError at the
  # caller, where the mistake can be fixed.
  module Envelope
    EVENT_RE = /\A[A-Za-z0-9_.:\-]{1,64}\z/
    CHANNEL_RE = %r{\A[A-Za-z0-9_.:@/=\-]{1,128}\z}
    # A token's channels claim: exact names, or prefixes ending in "*"
    # ("order:*"; "*" alone matches every channel).
    CHANNEL_PATTERN_RE = %r{\A(?:[A-Za-z0-9_.:@/=\-]{1,128}|[A-Za-z0-9_.:@/=\-]{0,127}\*)\z}
    # C0 controls, DEL and C1 controls are refused in user ids.
    CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/
    MAX_RECIPIENTS = 10_000

    module_function

    # Returns the msgpack bytes of one envelope. `to` is a user id or an
    # Array of them; `data` is anything msgpack can carry (objects that
    # answer as_json, like ActiveRecord models, are converted first).
    # idempotency_key: 1-128 bytes, routed once by the broker within its
    # window. op: "publish" makes it the control request of a confirmed send.
    # Instead of `to` (nil then): channel: a channel name (every connection
    # subscribed to it), or broadcast: true (every connection).
    def pack(to, event, data, id: nil, ttl: nil, idempotency_key: nil, op: nil, channel: nil,
             broadcast: false, max_bytes: 65_536)
      env = {}
      env["op"] = op unless op.nil?
      env["event"] = check_event(event)
      given = [!to.nil?, !channel.nil?, broadcast == true].count(true)
      raise ArgumentError, "herald: give exactly one of to, channel and broadcast" unless given == 1

      if channel
        env["channel"] = check_channel(channel)
      elsif broadcast
        env["broadcast"] = true
      else
        env["to"] = check_to(to)
      end
      env["data"] = plain(data) unless data.nil?
      env["id"] = check_id(id) unless id.nil?
      env["ttl"] = check_ttl(ttl) unless ttl.nil?
      env["idempotency_key"] = check_idempotency_key(idempotency_key) unless idempotency_key.nil?
      bytes = begin
        MessagePack.pack(env)
      rescue NoMethodError, RangeError, TypeError => e
        raise ArgumentError, "herald: data cannot be sent (#{e.message}); give Hashes, Arrays, strings, " \
                             "numbers, true/false/nil, or objects that answer as_json or to_h"
      end
      if bytes.bytesize > max_bytes
        raise ArgumentError, "herald: envelope is #{bytes.bytesize} bytes, over the #{max_bytes}-byte limit"
      end
      bytes
    end

    def check_event(event)
      name = event.to_s
      return name if EVENT_RE.match?(name)

      raise ArgumentError, "herald: event name #{event.inspect} must be 1-64 characters of [A-Za-z0-9_.:-]"
    end

    def check_to(to)
      list = to.is_a?(Array) ? to.map { |u| check_user(u) } : [check_user(to)]
      if list.empty? || list.size > MAX_RECIPIENTS
        raise ArgumentError, "herald: 'to' needs 1-#{MAX_RECIPIENTS} users, got #{list.size}"
      end
      to.is_a?(Array) ? list.uniq : list.first
    end

    # A user id: a String (Symbols and Integers are turned into one), or an
    # object that answers to_herald_id or id (an ActiveRecord user: its
    # primary key). Returns the String.
    def check_user(user)
      user = user_id_of(user)
      raise ArgumentError, "herald: user id is nil" if user.nil?

      id = user.to_s.dup.force_encoding(Encoding::UTF_8)
      unless id.valid_encoding? && !id.empty? && id.bytesize <= 128 && !CONTROL_RE.match?(id)
        raise ArgumentError, "herald: user id #{user.inspect} must be 1-128 bytes of UTF-8 without control characters"
      end
      id
    end

    def user_id_of(user)
      return user.to_herald_id if user.respond_to?(:to_herald_id)
      return user if user.nil? || user.is_a?(String) || user.is_a?(Symbol) || user.is_a?(Numeric)

      user.respond_to?(:id) ? user.id : user
    end

    def check_id(id)
      s = id.to_s
      raise ArgumentError, "herald: id must be at most 128 bytes" if s.bytesize > 128

      s
    end

    def check_channel(channel)
      name = channel.to_s
      return name if CHANNEL_RE.match?(name)

      raise ArgumentError, "herald: channel #{channel.inspect} must be 1-128 characters of [A-Za-z0-9_.:@/=-]"
    end

    # One entry of a token's channels claim: a channel name or a prefix
    # ending in "*".
    def check_channel_pattern(pattern)
      s = pattern.to_s
      return s if CHANNEL_PATTERN_RE.match?(s)

      raise ArgumentError, "herald: channels entry #{pattern.inspect} must be a channel name or a prefix ending in '*'"
    end

    def check_idempotency_key(key)
      s = key.to_s
      raise ArgumentError, "herald: idempotency_key must be 1-128 bytes" if s.empty? || s.bytesize > 128

      s
    end

    def check_ttl(ttl)
      raise ArgumentError, "herald: ttl must be a non-negative Integer (seconds)" unless ttl.is_a?(Integer) && ttl >= 0

      ttl
    end

    # Converts Rails-style objects to plain data; Hash keys become strings so
    # the browser gets a JSON object whatever the backend used (symbols).
    # Times and dates become ISO 8601 strings (as Rails' JSON does); other
    # objects go through as_json or to_h; anything else is an ArgumentError
    # (msgpack could not carry it, and the broker would never see it).
    def plain(value, depth = 0)
      raise ArgumentError, "herald: data is nested more than 64 levels deep" if depth > 64

      case value
      when Hash
        value.each_with_object({}) { |(k, v), h| h[k.is_a?(Symbol) ? k.to_s : k] = plain(v, depth + 1) }
      when Array then value.map { |v| plain(v, depth + 1) }
      when String, Integer, true, false, nil then value
      when Float
        raise ArgumentError, "herald: data holds #{value}, which JSON cannot carry" unless value.finite?

        value
      when Symbol then value.to_s
      else
        if value.respond_to?(:as_json)
          plain(value.as_json, depth + 1)
        elsif value.is_a?(Time) || value.is_a?(DateTime)
          value.iso8601(3)
        elsif value.is_a?(Date)
          value.iso8601
        elsif value.respond_to?(:to_h) && !value.is_a?(Numeric)
          plain(value.to_h, depth + 1)
        else
          raise ArgumentError, "herald: data holds a #{value.class} (#{value.inspect[0, 60]}), which cannot be " \
                               "sent; give Hashes, Arrays, strings, numbers, true/false/nil, or objects that " \
                               "answer as_json or to_h"
        end
      end
    end
  end
end
