import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

/** Collects what a subscription sends, and lets a test await the next items. */
export class SubscriptionRecorder<T> {
  readonly items: T[] = [];
  readonly errors: unknown[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  readonly done: Promise<void>;
  private finish!: () => void;
  dispose: () => void = () => undefined;

  constructor() {
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.items.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  fail(error: unknown): void {
    this.errors.push(error);
    this.complete();
  }

  complete(): void {
    this.finish();
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }

  /** Resolves once `count` items in all have arrived (or the stream ended). */
  async atLeast(count: number, timeoutMs = 10_000): Promise<T[]> {
    if (this.items.length < count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `waited ${timeoutMs} ms for ${count} items, got ${this.items.length}: ${JSON.stringify(this.items)} ${String(this.errors)}`,
              ),
            ),
          timeoutMs,
        );
        this.waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    }
    return this.items;
  }
}

export function wsClient(
  httpUrl: string,
  connectionParams: () => Record<string, unknown> | Promise<Record<string, unknown>>,
  options: { retryAttempts?: number } = {},
): Client {
  return createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: options.retryAttempts ?? 0,
    lazy: true,
  });
}

/** Subscribes and records; the recorder's `dispose` unsubscribes. */
export function record<TData, TVariables>(
  client: Client,
  document: TypedDocumentNode<TData, TVariables>,
  variables?: TVariables,
): SubscriptionRecorder<TData> {
  const recorder = new SubscriptionRecorder<TData>();
  recorder.dispose = client.subscribe<TData>(
    { query: print(document), variables: variables as Record<string, unknown> | undefined },
    {
      next: (result: ExecutionResult<TData>) => {
        if (result.errors?.length) recorder.fail(result.errors);
        else if (result.data) recorder.push(result.data);
      },
      error: (error) => recorder.fail(error),
      complete: () => recorder.complete(),
    },
  );
  return recorder;
}
