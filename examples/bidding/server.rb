# server.rb -- the bidding demo backend (plays the Rails app): ruby examples/bidding/server.rb
#
# Environment: HERALD_INGEST, HERALD_CONTROL, HERALD_SECRET (the Herald
# client's settings), HERALD_GATEWAY_URL (ws://.../ws for the browsers),
# HERALD_GATEWAY_HTTP (http://... where the gateway serves /herald.js),
# PORT (default 7490), BIDDING_VENDORS (default v1,v2), BIND (default 127.0.0.1).
$LOAD_PATH.unshift File.expand_path("../../clients/ruby/lib", __dir__)
require "herald"
require "rack"
require "rack/handler/webrick"
require "webrick"
require_relative "app"

port = Integer(ENV.fetch("PORT", "7490"))
bind = ENV.fetch("BIND", "127.0.0.1")
gateway_url = ENV.fetch("HERALD_GATEWAY_URL", "ws://127.0.0.1:7400/ws")
gateway_http = ENV.fetch("HERALD_GATEWAY_HTTP", "http://127.0.0.1:7400")
vendors = ENV.fetch("BIDDING_VENDORS", "v1,v2").split(",").map(&:strip).reject(&:empty?)
abort "server.rb: HERALD_SECRET is not set (the gateway's token secret)" if ENV["HERALD_SECRET"].to_s.empty?

# A lost notification must not fail the user's request: the store is the
# source of truth and pages reload it on (re)connect. So drop-and-count
# instead of raising when the broker has been away long enough to fill the queue.
Herald.configure { |c| c.on_full = :drop }

$stdout.sync = true
notifier = lambda do |to, event, data, id|
  queued = Herald.notify(to, event, data, id: id, ttl: 3600)
  warn "bidding: broker unreachable, dropped #{event} for #{to.inspect}" unless queued
rescue Herald::Error, ArgumentError => e
  warn "bidding: notify #{event} failed: #{e.message}"
end

# A channel event goes through the broker's control op publish (answered
# once the event is stored); a broker that does not answer in time costs a
# warning, not the request.
publisher = lambda do |channel, event, data, id|
  Herald.control_request({ "op" => "publish", "channel" => channel, "event" => event,
                           "data" => data, "id" => id, "ttl" => 3600 })
rescue Herald::Error => e
  warn "bidding: publish #{event} on #{channel} failed: #{e.message}"
end

store = Bidding::Store.new(vendors: vendors, notifier: notifier, publisher: publisher)
app = Bidding::App.new(
  store: store, gateway_url: gateway_url, gateway_http: gateway_http,
  # the connection token: a vendor's "channels" claim lets it follow the board
  token: ->(user, channels) { Herald.token(user, ttl: 3600, claims: channels.empty? ? {} : { channels: channels }) },
  # an order's thread is opened per participant with a subscription token
  subscription: ->(user, channel) { Herald.token(user, ttl: 300, claims: { channel: channel }) }
)

server = WEBrick::HTTPServer.new(BindAddress: bind, Port: port, AccessLog: [],
                                 Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN))
server.mount "/", Rack::Handler::WEBrick, app
%w[INT TERM].each { |sig| trap(sig) { server.shutdown } }

base = "http://#{bind == '0.0.0.0' ? '127.0.0.1' : bind}:#{port}"
puts "Bidding demo on #{base} (gateway #{gateway_url})"
puts "  customer: #{base}/?as=customer:carol"
vendors.each { |v| puts "  vendor:   #{base}/?as=vendor:#{v}" }
server.start
