# app.rb -- the bidding demo's Rack application: pages, JSON API, tokens for herald.js.
require "json"
require "rack"
require_relative "store"

module Bidding
  # Routes (the user is named by ?as=customer:NAME or ?as=vendor:NAME; a
  # demo stand-in for a login session):
  #   GET  /                      page for ?as=..., or the list of demo users
  #   GET  /app.js, /style.css    the page's script and style
  #   GET  /api/token?as=         a Herald token for that user (text); a
  #                               vendor's lets it follow the board channel
  #   GET  /api/subscription?as=&channel=order:ID
  #                               a subscription token for an order's
  #                               negotiation thread, for its participants
  #   GET  /api/state?as=         the orders as that user sees them (JSON)
  #   POST /api/orders            {title, details}            customer
  #   POST /api/orders/:id/bids   {amount, note}              vendor
  #   POST /api/orders/:id/negotiate {text}                   customer
  #   POST /api/orders/:id/choose {vendor}                    customer
  #   POST /api/orders/:id/confirm                            vendor
  class App
    PUBLIC = File.join(__dir__, "public")
    TYPES = { ".js" => "text/javascript; charset=utf-8", ".css" => "text/css; charset=utf-8" }.freeze
    USER_RE = /\A(customer|vendor):([A-Za-z0-9_.-]{1,40})\z/

    def initialize(store:, gateway_url:, gateway_http:, token:, subscription:, log: $stderr)
      @store = store
      @gateway_url = gateway_url
      @gateway_http = gateway_http
      @token = token
      @subscription = subscription
      @log = log
    end

    def call(env)
      req = Rack::Request.new(env)
      s_route(req)
    rescue Refused => e
      s_json(e.status, { error: e.message })
    rescue JSON::ParserError
      s_json(400, { error: "body is not JSON" })
    end

    private

    def s_route(req)
      path = req.path_info
      return s_page(req) if req.get? && path == "/"
      return s_static(path) if req.get? && %w[/app.js /style.css].include?(path)
      return s_json(200, "ok") if req.get? && path == "/healthz"
      # browsers ask for it on their own, with no ?as=: not an auth failure
      return [204, {}, []] if req.get? && path == "/favicon.ico"

      role, user = s_user(req)
      case [req.request_method, path]
      in ["GET", "/api/token"]
        channels = role == "vendor" ? [Store::BOARD] : []
        s_text(@token.call(user, channels))
      in ["GET", "/api/subscription"]
        channel = req.params["channel"].to_s
        raise Refused.new("you do not take part in #{channel}", 403) unless @store.participant?(role, user, channel)

        s_text(@subscription.call(user, channel))
      in ["GET", "/api/state"]
        s_json(200, { user: user, role: role, vendors: @store.vendors, orders: @store.view(role, user) })
      in ["POST", "/api/orders"]
        s_need(role, "customer")
        body = s_body(req)
        s_json(201, { order: @store.create_order(user, body["title"], body["details"]).slice(:id) })
      in ["POST", %r{\A/api/orders/(\d+)/(bids|negotiate|choose|confirm)\z}]
        id, action = path.split("/")[3, 2]
        s_json(200, s_action(role, user, id, action, s_body(req)))
      else
        s_json(404, { error: "no route #{req.request_method} #{path}" })
      end
    end

    def s_action(role, user, id, action, body)
      case action
      when "bids"
        s_need(role, "vendor")
        { bid: @store.place_bid(user, id, body["amount"], body["note"]) }
      when "negotiate"
        s_need(role, "customer")
        { message: @store.negotiate(user, id, body["text"]) }
      when "choose"
        s_need(role, "customer")
        { bid: @store.choose(user, id, body["vendor"].to_s) }
      when "confirm"
        s_need(role, "vendor")
        { order: @store.confirm(user, id).slice(:id, :status) }
      end
    end

    def s_user(req)
      m = USER_RE.match(req.params["as"].to_s)
      raise Refused.new("say who you are: ?as=customer:NAME or ?as=vendor:NAME", 401) unless m

      [m[1], m[2]]
    end

    def s_need(role, wanted)
      raise Refused.new("only a #{wanted} can do that", 403) unless role == wanted
    end

    def s_body(req)
      raw = req.body.read(64 * 1024).to_s
      data = raw.empty? ? {} : JSON.parse(raw)
      raise Refused, "body must be a JSON object" unless data.is_a?(Hash)

      data
    end

    def s_text(text)
      [200, { "content-type" => "text/plain", "cache-control" => "no-store" }, [text]]
    end

    def s_json(status, obj)
      [status, { "content-type" => "application/json", "cache-control" => "no-store" }, [JSON.generate(obj)]]
    end

    def s_static(path)
      file = File.join(PUBLIC, File.basename(path))
      [200, { "content-type" => TYPES.fetch(File.extname(file)), "cache-control" => "no-cache" }, [File.read(file)]]
    end

    # The page is the same for every user; its config (who, where the
    # gateway is) is embedded as JSON and read by app.js.
    def s_page(req)
      m = USER_RE.match(req.params["as"].to_s)
      return s_index unless m

      cfg = { role: m[1], user: m[2], as: "#{m[1]}:#{m[2]}", gatewayUrl: @gateway_url,
              heraldJs: "#{@gateway_http}/herald.js" }
      html = File.read(File.join(PUBLIC, "index.html"))
                 .sub("{{CONFIG}}", JSON.generate(cfg).gsub("<", "\\u003c"))
                 .sub("{{TITLE}}", Rack::Utils.escape_html("#{m[2]} (#{m[1]})"))
      [200, { "content-type" => "text/html; charset=utf-8", "cache-control" => "no-store" }, [html]]
    end

    def s_index
      links = [%w[customer carol]] + @store.vendors.map { |v| ["vendor", v] }
      items = links.map do |role, name|
        %(<li><a href="/?as=#{role}:#{name}">#{Rack::Utils.escape_html(name)}</a> <span>#{role}</span></li>)
      end
      html = <<~HTML
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Herald bidding demo</title>
        <link rel="stylesheet" href="/style.css"></head><body class="index">
        <main class="card"><h1>Herald bidding demo</h1><p>Open each user in its own tab:</p>
        <ul class="users">#{items.join}</ul></main></body></html>
      HTML
      [200, { "content-type" => "text/html; charset=utf-8" }, [html]]
    end
  end
end
