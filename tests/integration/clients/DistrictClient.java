// A district system's Kafka client in Java, with nothing but the Apache Kafka client library
// (kafka-clients, here the broker's own jar): the integration tests run it to prove that a
// district's command and its outbound notices work with a client other than the platform's own
// aiokafka. Run as a single source file (Java 11+, no build step):
//
//   java -cp 'kafka/libs/*' DistrictClient.java produce district.properties TOPIC KEY VALUE_FILE
//   java -cp 'kafka/libs/*' DistrictClient.java consume district.properties TOPIC GROUP KEY TYPE SECONDS
//
// `consume` reads TOPIC from the beginning in consumer group GROUP and prints each record as
// `ce_sequence<TAB>ce_type<TAB>key<TAB>value`, until a record with key KEY and ce_type TYPE has
// been printed (exit 0) or SECONDS have passed (exit 3). Kafka's own errors (a refused login, a
// topic not granted) end it with their exception on stderr and exit 1.

import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class DistrictClient {
    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        try (FileInputStream in = new FileInputStream(args[1])) {
            config.load(in);
        }
        try {
            if (args[0].equals("produce")) {
                produce(config, args[2], args[3], Files.readString(Path.of(args[4]), StandardCharsets.UTF_8));
            } else {
                System.exit(consume(config, args[2], args[3], args[4], args[5], Integer.parseInt(args[6])));
            }
        } catch (Exception e) {
            System.err.println("FAILED " + e);
            System.exit(1);
        }
    }

    static void produce(Properties config, String topic, String key, String value) throws Exception {
        config.put("key.serializer", StringSerializer.class.getName());
        config.put("value.serializer", StringSerializer.class.getName());
        config.put("enable.idempotence", "true");
        config.put("acks", "all");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
            producer.send(new ProducerRecord<>(topic, key, value)).get();
        }
    }

    static int consume(Properties config, String topic, String group, String key, String type, int seconds) {
        config.put("key.deserializer", StringDeserializer.class.getName());
        config.put("value.deserializer", StringDeserializer.class.getName());
        config.put("group.id", group);
        config.put("auto.offset.reset", "earliest");
        config.put("enable.auto.commit", "false");
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config)) {
            consumer.subscribe(List.of(topic));
            while (System.currentTimeMillis() < deadline) {
                boolean found = false;
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    String seq = header(r, "ce_sequence");
                    String ceType = header(r, "ce_type");
                    System.out.println(seq + "\t" + ceType + "\t" + r.key() + "\t" + r.value());
                    found |= key.equals(r.key()) && type.equals(ceType);
                }
                consumer.commitSync();  // after the district's own system has stored them
                if (found) {
                    System.out.flush();
                    return 0;
                }
            }
        }
        return 3;
    }

    static String header(ConsumerRecord<String, String> record, String name) {
        Header h = record.headers().lastHeader(name);
        return h == null ? "" : new String(h.value(), StandardCharsets.UTF_8);
    }
}
