# store.rb -- the bidding demo's in-memory marketplace; every change notifies through Herald.
require "securerandom"

module Bidding
  # Raised for a request the marketplace refuses; the app answers 400/403/404 with its message.
  class Refused < StandardError
    attr_reader :status

    def initialize(message, status = 400)
      super(message)
      @status = status
    end
  end

  # Orders, bids and negotiation messages in memory, behind one mutex.
  # Each method that changes something calls the notifier (Herald.notify in
  # the app: to users) or the publisher (to a channel) outside the lock,
  # the way a Rails controller would after its transaction commits.
  #
  # Channels: "board" is the live order board every vendor follows; each
  # order has its negotiation thread "order:<id>", followed by its customer
  # and the vendors who bid (participant? decides who may subscribe).
  class Store
    MAX_TEXT = 500
    BOARD = "board"

    def self.thread(order_id)
      "order:#{order_id}"
    end

    def initialize(vendors:, notifier:, publisher:)
      @vendors = vendors
      @notify = notifier
      @publish = publisher
      @lock = Mutex.new
      @orders = {}
      @seq = 0
    end

    attr_reader :vendors

    # A customer posts an order; it appears on every vendor's board.
    def create_order(customer, title, details)
      title = s_text(title, "title", 120)
      details = s_text(details.to_s.empty? ? "-" : details, "details", MAX_TEXT)
      order = @lock.synchronize do
        @seq += 1
        @orders[@seq] = { id: @seq, customer: customer, title: title, details: details, status: "open",
                          bids: {}, messages: [], chosen: nil, created_at: s_now }
      end
      @publish.call(BOARD, "order.new", s_public(order), "order-#{order[:id]}")
      order
    end

    # A vendor bids on an open order (again to change the amount); the customer is told.
    def place_bid(vendor, order_id, amount, note)
      amount = Float(amount, exception: false)
      raise Refused, "amount must be a positive number" unless amount&.positive? && amount < 1e9

      note = note.to_s.strip[0, MAX_TEXT]
      order, bid = @lock.synchronize do
        o = s_order(order_id)
        raise Refused, "order #{o[:id]} is no longer open" unless o[:status] == "open"

        prev = o[:bids][vendor]
        b = { vendor: vendor, amount: amount.round(2), note: note, at: s_now, revision: (prev ? prev[:revision] + 1 : 1) }
        o[:bids][vendor] = b
        [o, b]
      end
      @notify.call(order[:customer], "bid", { order: order[:id], title: order[:title], **bid },
                   "bid-#{order[:id]}-#{vendor}-#{bid[:revision]}")
      bid
    end

    # The customer asks every vendor who bid on the order to reconsider: a
    # message on the order's negotiation thread.
    def negotiate(customer, order_id, text)
      text = s_text(text, "message", MAX_TEXT)
      order, msg = @lock.synchronize do
        o = s_owned(customer, order_id)
        raise Refused, "no bids to negotiate yet" if o[:bids].empty?
        raise Refused, "order #{o[:id]} is no longer open" unless o[:status] == "open"

        m = { text: text, at: s_now, n: o[:messages].size + 1 }
        o[:messages] << m
        [o, m]
      end
      @publish.call(Store.thread(order[:id]), "negotiate",
                    { order: order[:id], title: order[:title], customer: customer, **msg },
                    "neg-#{order[:id]}-#{msg[:n]}")
      msg
    end

    # The customer picks one bid; that vendor is asked to confirm at once.
    def choose(customer, order_id, vendor)
      order, bid = @lock.synchronize do
        o = s_owned(customer, order_id)
        raise Refused, "order #{o[:id]} is no longer open" unless o[:status] == "open"

        b = o[:bids][vendor] or raise Refused, "#{vendor} has not bid on order #{o[:id]}"
        o[:status] = "chosen"
        o[:chosen] = vendor
        [o, b]
      end
      @notify.call(vendor, "chosen", { order: order[:id], title: order[:title], customer: customer,
                                       amount: bid[:amount] }, "chosen-#{order[:id]}")
      bid
    end

    # The chosen vendor confirms; the customer sees it, the other bidders hear the order closed.
    def confirm(vendor, order_id)
      order, others = @lock.synchronize do
        o = s_order(order_id)
        raise Refused.new("only the chosen vendor can confirm", 403) unless o[:chosen] == vendor
        raise Refused, "order #{o[:id]} is already confirmed" if o[:status] == "confirmed"

        o[:status] = "confirmed"
        o[:confirmed_at] = s_now
        [o, o[:bids].keys - [vendor]]
      end
      amount = order[:bids][vendor][:amount]
      @notify.call(order[:customer], "confirmed", { order: order[:id], title: order[:title], vendor: vendor,
                                                     amount: amount }, "confirmed-#{order[:id]}")
      unless others.empty?
        @notify.call(others, "closed", { order: order[:id], title: order[:title] }, "closed-#{order[:id]}")
      end
      order
    end

    # May user follow channel? The board: every vendor. An order's thread:
    # its customer and the vendors who bid on it.
    def participant?(role, user, channel)
      return role == "vendor" if channel == BOARD

      m = /\Aorder:(\d+)\z/.match(channel) or return false
      @lock.synchronize do
        o = @orders[Integer(m[1])] or return false
        role == "customer" ? o[:customer] == user : o[:bids].key?(user)
      end
    end

    # What the page of `user` shows: a customer's own orders, or a vendor's
    # view of all orders (their own bid, messages if they bid).
    def view(role, user)
      @lock.synchronize do
        list = @orders.values.reverse
        if role == "customer"
          list.select { |o| o[:customer] == user }.map { |o| s_customer_view(o) }
        else
          list.map { |o| s_vendor_view(o, user) }
        end
      end
    end

    private

    def s_now
      (Time.now.to_f * 1000).to_i
    end

    def s_text(value, what, max)
      text = value.to_s.strip
      raise Refused, "#{what} is empty" if text.empty?
      raise Refused, "#{what} is longer than #{max} characters" if text.size > max

      text
    end

    def s_order(id)
      @orders[Integer(id, exception: false)] or raise Refused.new("no order #{id}", 404)
    end

    def s_owned(customer, id)
      o = s_order(id)
      raise Refused.new("order #{o[:id]} is not yours", 403) unless o[:customer] == customer

      o
    end

    def s_public(o)
      o.slice(:id, :customer, :title, :details, :status, :created_at)
    end

    def s_customer_view(o)
      s_public(o).merge(bids: o[:bids].values.sort_by { |b| b[:amount] }, messages: o[:messages],
                        chosen: o[:chosen])
    end

    def s_vendor_view(o, vendor)
      mine = o[:bids][vendor]
      s_public(o).merge(my_bid: mine, messages: mine ? o[:messages] : [], bid_count: o[:bids].size,
                        chosen_me: o[:chosen] == vendor, chosen_other: !o[:chosen].nil? && o[:chosen] != vendor)
    end
  end
end
