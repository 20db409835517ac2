# worker.rb -- fallback worker: pulls Herald's undelivered events and prints the e-mail it would send.
#
#   HERALD_UNDELIVERED=tcp://127.0.0.1:7404 ruby examples/fallback-worker/worker.rb
#
# With a CURVE broker, also HERALD_CURVE_CERT=mailer.cert (herald-keygen
# mailer --role worker) and HERALD_CURVE_SERVER=broker.cert.
#
# The broker pushes one msgpack map per recipient who had no live connection
# when an event was routed: {event, to, data, id, offset, reason: "offline"}.
# A real worker would look the user up and send mail, SMS or a mobile push;
# this one prints what it would send, one block per event. Several workers
# may connect: ZeroMQ PUSH deals events out round-robin. With no worker
# connected the broker drops (and counts) them, so run it before you need it.
require "ffi-rzmq"
require "msgpack"
require "json"
begin
  require "herald/curve"        # the herald gem, when installed
rescue LoadError
  require_relative "../../clients/ruby/lib/herald/curve"
end

module FallbackWorker
  module_function

  # The text of the e-mail for one undelivered event (nil for a message that
  # is not a well-formed undelivered map; those are logged and skipped).
  def email_for(msg)
    return nil unless msg.is_a?(Hash) && msg["to"].is_a?(String) && msg["event"].is_a?(String)

    data = msg["data"]
    summary = data.is_a?(Hash) && data["title"] ? data["title"] : JSON.generate(data)
    <<~MAIL
      To: #{msg['to']}
      Subject: You missed a "#{msg['event']}" notification
      Reason: #{msg['reason'] || 'offline'}, offset #{msg['offset']}#{msg['id'] ? ", id #{msg['id']}" : ''}

      While you were away: #{summary}
    MAIL
  end

  # Pulls until `stop` says so (checked every poll_ms) or `max` events were
  # handled. With curve_cert and curve_server (certificate files) the PULL
  # is a CURVE client, for a broker run with --curve-allow.
  def run(endpoint, out: $stdout, max: nil, poll_ms: 500, stop: -> { false },
          curve_cert: nil, curve_server: nil)
    keys = curve_cert || curve_server ? Herald::Curve.load(curve_cert, curve_server) : nil
    ctx = ZMQ::Context.new(1)
    sock = ctx.socket(ZMQ::PULL)
    raise "cannot create a ZeroMQ socket" unless sock

    sock.setsockopt(ZMQ::RCVTIMEO, poll_ms)
    sock.setsockopt(ZMQ::LINGER, 0)
    sock.setsockopt(ZMQ::RCVHWM, 10_000)
    Herald::Curve.apply(sock, keys) if keys
    raise "cannot connect to #{endpoint}: #{ZMQ::Util.error_string}" unless ZMQ::Util.resultcode_ok?(sock.connect(endpoint))

    out.puts "fallback-worker: pulling undelivered events from #{endpoint}#{keys ? ' (CURVE)' : ''}"
    out.flush
    handled = 0
    until stop.call || (max && handled >= max)
      buf = +""
      next unless ZMQ::Util.resultcode_ok?(sock.recv_string(buf)) # timeout: check stop and poll again

      mail = begin
        email_for(MessagePack.unpack(buf))
      rescue MessagePack::MalformedFormatError
        nil
      end
      if mail
        out.puts "--- would e-mail ---", mail
        handled += 1
      else
        warn "fallback-worker: skipped a message that is not an undelivered event (#{buf.bytesize} bytes)"
      end
      out.flush
    end
    handled
  ensure
    sock&.close
    ctx&.terminate
  end
end

if $PROGRAM_NAME == __FILE__
  stopping = false
  %w[INT TERM].each { |sig| trap(sig) { stopping = true } }
  endpoint = ENV.fetch("HERALD_UNDELIVERED", "tcp://127.0.0.1:7404")
  cert = ENV["HERALD_CURVE_CERT"].to_s
  server = ENV["HERALD_CURVE_SERVER"].to_s
  begin
    FallbackWorker.run(endpoint, stop: -> { stopping },
                       curve_cert: cert.empty? ? nil : cert, curve_server: server.empty? ? nil : server)
  rescue Herald::Error => e
    warn "fallback-worker: #{e.message}"
    exit 2
  end
end
